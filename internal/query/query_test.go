package query_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/query"
	"github.com/secimpact/impact/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRefusesWrites(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE TABLE keep (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO keep (x) SELECT 1"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"DROP TABLE keep",
		"INSERT INTO keep (x) VALUES (2)",
		"ALTER TABLE keep DELETE WHERE 1",
		"CREATE TABLE other (x UInt8) ENGINE = Memory",
		"TRUNCATE TABLE keep",
		"SET readonly = 0",
	} {
		t.Run(strings.Fields(sql)[0], func(t *testing.T) {
			var out bytes.Buffer
			_, err := query.Run(ctx, conn, sql, &out, query.Options{})
			if !errors.Is(err, query.ErrReadOnly) {
				t.Fatalf("%s: got %v, want ErrReadOnly", sql, err)
			}
		})
	}
	// Nothing changed.
	var out bytes.Buffer
	if _, err := query.Run(ctx, conn, "SELECT count() AS n FROM keep", &out, query.Options{Format: query.CSV}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "n\n1\n" {
		t.Fatalf("table changed: %q", got)
	}
}

func TestFormats(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sql := "SELECT number AS n, toString(number) AS s, if(number = 1, NULL, number / 4) AS q, toDateTime('2026-01-02 03:04:05', 'UTC') AS t, [number, 7] AS a FROM system.numbers LIMIT 3"
	tests := []struct {
		format query.Format
		limit  int
		want   string
	}{
		{query.CSV, 0, "n,s,q,t,a\n0,0,0,2026-01-02T03:04:05Z,\"[0,7]\"\n1,1,,2026-01-02T03:04:05Z,\"[1,7]\"\n2,2,0.5,2026-01-02T03:04:05Z,\"[2,7]\"\n"},
		{query.JSON, 2, "[\n  {\"n\": 0, \"s\": \"0\", \"q\": 0, \"t\": \"2026-01-02T03:04:05Z\", \"a\": [0,7]},\n  {\"n\": 1, \"s\": \"1\", \"q\": null, \"t\": \"2026-01-02T03:04:05Z\", \"a\": [1,7]}\n]\n"},
		{query.Table, 1, "n  s  q  t                     a\n-  -  -  -                     -\n0  0  0  2026-01-02T03:04:05Z  [0,7]\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var out bytes.Buffer
			res, err := query.Run(ctx, conn, sql, &out, query.Options{Format: tt.format, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
			if tt.limit > 0 && !res.Truncated {
				t.Fatal("want Truncated")
			}
		})
	}
}
