package transform_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestRefreshStatementThreads: every statement that builds a table or
// reads one for impact_stats reaches the server with the refresh's
// max_threads: Options.StatementThreads when set, else the server's
// max_threads shared between the two builds a full refresh runs at once
// (at least 1).
func TestRefreshStatementThreads(t *testing.T) {
	t.Parallel()
	cfg, conn := openDB(t)
	ctx := context.Background()
	var setting string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'max_threads'").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	cores, err := strconv.Atoi(setting)
	if err != nil {
		t.Fatalf("18.16 shows max_threads as a number, got %q", setting)
	}
	truth, _ := loadSimulation(t, conn, simulate.Options{Seed: 37, Days: 30}, 1, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Time{})

	for _, tc := range []struct {
		name      string
		opt, want int
	}{
		{"set", 3, 3},
		{"default", 0, max(1, cores/2)},
	} {
		// Tagged per refresh: the two refreshes can share a second of
		// event_time.
		tag := "threads-" + tc.name
		logged := loggedConn(t, cfg, tag)
		var from time.Time
		if err := conn.QueryRow(ctx, "SELECT now()").Scan(&from); err != nil {
			t.Fatal(err)
		}
		_, err := transform.Refresh(ctx, logged, transform.Options{AsOf: truth.End, StatementThreads: tc.opt})
		logged.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, `SELECT query, Settings.Values[indexOf(Settings.Names, 'max_threads')]
		FROM system.query_log
		WHERE type = 2 AND event_time >= @from AND position(client_name, @tag) > 0
		    AND (match(query, 'INSERT INTO [a-z_]+_next') OR position(query, 'FROM deal_facts') > 0)`,
			clickhouse.Named("from", from), clickhouse.Named("tag", logTag(tag, cfg)))
		if err != nil {
			t.Fatal(err)
		}
		builds, reads := 0, 0
		for rows.Next() {
			var q, threads string
			if err := rows.Scan(&q, &threads); err != nil {
				t.Fatal(err)
			}
			if threads != strconv.Itoa(tc.want) {
				t.Errorf("%s: statement ran with max_threads %q, want %d:\n%.200s", tc.name, threads, tc.want, q)
			}
			if q[:6] == "SELECT" {
				reads++
			} else {
				builds++
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if builds == 0 || reads == 0 {
			t.Errorf("%s: %d table builds and %d reads of deal_facts in the query log, want some of each", tc.name, builds, reads)
		}
	}
}

// loggedConn opens a connection that logs its queries (log_queries at the
// connection, so per-query settings are the refresh's own) and names tag
// and the test's database in its client name (logTag): 18.16's query log
// does not say which database a query used.
func loggedConn(t *testing.T, cfg config.ClickHouse, tag string) driver.Conn {
	t.Helper()
	opts, err := chconn.Options(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Settings = clickhouse.Settings{"log_queries": 1}
	opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{Name: tag, Version: cfg.DB()})
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// logTag is what loggedConn's queries carry in the query log's client_name.
func logTag(tag string, cfg config.ClickHouse) string { return tag + "/" + cfg.DB() + " " }
