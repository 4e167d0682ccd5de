package transform_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestStatsCache: with Options.Cache, an incremental refresh reuses
// impact_stats' reads of the partitions of deal_facts, deployment_facts
// and dora_changes it attached unchanged, and of the tickets of
// ticket_facts' base, and its impact_stats equals one computed from every
// table read again. The cache is not used after a
// refresh by another process (complete, or failed after it marked its
// start), after an older release's refresh (which marks nothing but
// records another watermark) or after a failed refresh of its own.
func TestStatsCache(t *testing.T) {
	t.Parallel()
	conn := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	truth, rest := loadSimulation(t, conn, simulate.Options{Seed: 31, Days: 120}, 0.97, t0, t0.Add(365*24*time.Hour))
	cache := &transform.Cache{}
	opts := transform.Options{AsOf: truth.End, Overlap: time.Second, Cache: cache}
	other := transform.Options{AsOf: truth.End, Overlap: time.Second} // another process: no cache
	time.Sleep(3 * time.Second)                                       // the loaded rows are stamped before the watermark
	statsOf := func(rep transform.Report) transform.TableReport {
		t.Helper()
		for _, tr := range rep.Tables {
			if tr.Table == transform.StatsTable {
				return tr
			}
		}
		t.Fatalf("no %s in the report", transform.StatsTable)
		return transform.TableReport{}
	}

	if st := statsOf(refresh(t, conn, opts)); st.Kept != 0 {
		t.Fatalf("full refresh with an empty cache reused %d partitions", st.Kept)
	}
	rest()
	st := statsOf(refresh(t, conn, opts))
	if st.Kept == 0 || st.Rebuilt == 0 {
		t.Fatalf("incremental refresh read %d partitions and reused %d: want some of each (the case did not happen)", st.Rebuilt, st.Kept)
	}
	if st.FiguresReused == 0 {
		t.Fatal("incremental refresh computed the figures of every period again: want those of the unchanged periods reused")
	}
	cached := snapshot(t, conn)[transform.StatsTable]
	// Another process refreshes: nothing new, so the tables stay; its
	// impact_stats reads every partition.
	if st := statsOf(refresh(t, conn, other)); st.Kept != 0 {
		t.Fatalf("a refresh without a cache reused %d partitions", st.Kept)
	}
	if full := snapshot(t, conn)[transform.StatsTable]; full != cached {
		t.Fatalf("impact_stats from reused partitions differs from one read in full:\n%s", firstDiff(cached, full))
	}

	// Every way the live tables may have changed since the cache's refresh.
	for _, tc := range []struct {
		name   string
		change func(t *testing.T)
	}{
		{"another process refreshed", func(t *testing.T) { refresh(t, conn, other) }},
		{"another process marked its start and failed", func(t *testing.T) {
			exec(t, conn, "INSERT INTO transform_state (model, version, watermark, updated_at) SELECT '*started', 'another-run', toDateTime(0), now()")
		}},
		{"an older release refreshed", func(t *testing.T) {
			// Its later watermark: nothing new to read, every partition
			// kept, so the watermark alone tells.
			exec(t, conn, "INSERT INTO transform_state (model, version, watermark, updated_at) SELECT '*', '', argMax(watermark, updated_at) + 1, now() + 1 FROM transform_state WHERE model = '*'")
		}},
		{"a refresh of this process failed", func(t *testing.T) {
			// Stopped once its first table is swapped in.
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			failing := opts
			failing.Logger = slog.New(cancelOn{"transform table", cancel})
			if _, err := transform.Refresh(ctx, conn, failing); err == nil {
				t.Fatal("the refresh cancelled after its first table did not fail")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			time.Sleep(time.Second) // past the second of the last case's marker
			refresh(t, conn, opts)  // fills the cache
			if st := statsOf(refresh(t, conn, opts)); st.Kept == 0 {
				t.Fatalf("a refresh right after the cache's reused nothing")
			}
			time.Sleep(time.Second) // a marker of the next second
			tc.change(t)
			if st := statsOf(refresh(t, conn, opts)); st.Kept != 0 {
				t.Errorf("reused %d partitions after the tables may have changed", st.Kept)
			}
		})
	}

	// The counts of the tickets of ticket_facts' base are kept while the
	// view reads that base: a refresh that folds the delta writes a new
	// base into the other slot, whose tickets are read again.
	t.Run("ticket_facts folded", func(t *testing.T) {
		view := func() string {
			t.Helper()
			var ddl string
			if err := conn.QueryRow(ctx, "SHOW CREATE TABLE ticket_facts").Scan(&ddl); err != nil {
				t.Fatal(err)
			}
			return ddl
		}
		time.Sleep(time.Second)
		refresh(t, conn, opts) // fills the cache
		before := view()
		if !strings.Contains(before, "ticket_facts_delta_") {
			t.Fatalf("ticket_facts has no delta (the case did not happen):\n%s", before)
		}
		folding := opts
		folding.DeltaShare = 1e-9
		refresh(t, conn, folding)
		if after := view(); strings.Contains(after, "ticket_facts_delta_") || after == before {
			t.Fatalf("the refresh did not fold ticket_facts' delta:\n%s", after)
		}
		got := snapshot(t, conn)[transform.StatsTable]
		refresh(t, conn, other)
		if want := snapshot(t, conn)[transform.StatsTable]; got != want {
			t.Fatalf("impact_stats after the fold differs from one read in full:\n%s", firstDiff(got, want))
		}
	})
}

// cancelOn is a slog handler that calls cancel on a record with the
// message msg.
type cancelOn struct {
	msg    string
	cancel func()
}

func (h cancelOn) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.cancel()
	}
	return nil
}
func (h cancelOn) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelOn) WithGroup(string) slog.Handler      { return h }

func exec(t *testing.T, conn driver.Conn, q string) {
	t.Helper()
	if err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

// firstDiff shows the first line where two snapshots of a table differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n%s\n%s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
}
