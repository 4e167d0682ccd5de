package pipelinetest

import (
	"context"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestLoad checks that Load leaves closed deals in deal_facts as the truth
// counts them, and that ShowCreateTables returns runnable, unqualified DDL
// for the raw, typed and analyst tables but not transform's scratch tables.
func TestLoad(t *testing.T) {
	ctx := context.Background()
	l := Load(t, simulate.Options{Seed: 3, Days: 60, Scale: 0.2})
	var n uint64
	if err := l.Conn.QueryRow(ctx, "SELECT count() FROM deal_facts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	want := l.Truth.Deals.Closed
	if want == 0 || n != uint64(want) {
		t.Errorf("deal_facts has %d rows, truth %d closed deals", n, want)
	}

	stmts, err := ShowCreateTables(ctx, l.Conn, l.DB())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range stmts {
		if !strings.HasPrefix(s, "CREATE TABLE ") || strings.Contains(s, l.DB()+".") {
			t.Errorf("not unqualified CREATE TABLE: %.80s", s)
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(s, "CREATE TABLE "), " ")
		names[name] = true
		if strings.HasSuffix(name, "_next") {
			t.Errorf("scratch table %s listed", name)
		}
	}
	for _, want := range []string{"events_raw", "finding_events", "ingest_rejects", "findings", "deal_facts", "impact_stats"} {
		if !names[want] {
			t.Errorf("no DDL for %s (got %d tables)", want, len(names))
		}
	}
}
