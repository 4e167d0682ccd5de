package transform_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestRefreshAtomicForReaders reads the contract tables in a tight loop
// from several connections while refreshes run (full, incremental, with
// findings' delta written, carried over and folded, and one with a changed
// SLA policy, which rebuilds the findings table under a new version): a
// reader must always see the complete table, never an error, an empty
// table, a partial row count or a finding twice.
func TestRefreshAtomicForReaders(t *testing.T) {
	cfg, conn := openDB(t)
	truth, _ := loadSimulation(t, conn, simulate.Options{Seed: 5, Days: 90}, 1, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	opts := transform.Options{AsOf: truth.End}
	refresh(t, conn, opts)

	tables := []string{"findings", "deal_facts", "deployment_facts", "ticket_facts", "department_scorecard", transform.StatsTable}
	want := map[string]uint64{}
	for _, table := range tables {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		want[table] = n
		if want[table] == 0 {
			t.Fatalf("%s is empty before the test", table)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan string, 100)
	for _, table := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := chconn.Open(ctx, cfg) // its own connection, like a dashboard
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close()
			// findings is a view over a base and a delta table: a reader
			// that saw the base of one refresh and the delta of another
			// would see a finding twice or not at all.
			q := "SELECT count(), count() FROM " + table
			if table == "findings" {
				q = "SELECT count(), uniqExact(finding_id) FROM findings"
			}
			for ctx.Err() == nil {
				var n, distinct uint64
				if err := c.QueryRow(ctx, q).Scan(&n, &distinct); err != nil {
					if ctx.Err() == nil {
						select {
						case errs <- table + ": " + err.Error():
						default:
						}
					}
					continue
				}
				reads.Add(1)
				if n != want[table] || distinct != n {
					select {
					case errs <- fmt.Sprintf("%s: saw %d rows (%d distinct), want %d", table, n, distinct, want[table]):
					default:
					}
				}
			}
		}()
	}
	policy := transform.DefaultSLAPolicy
	policy.Version = "test-stricter"
	policy.Critical = 7 * 24 * time.Hour
	// Findings whose latest event arrives again (a redelivery: same id,
	// later offset) are recomputed, to the same rows, by the incremental
	// refreshes: into a delta (DeltaShare 100: never folded, even when a
	// refresh reads every row again), carried over, or folded into a new
	// base (a share no delta stays under).
	cols := typedColumns(t, conn, "finding_events")
	redeliver := func(part int) {
		exprs := columnExprs(cols, map[string]string{
			"ingested_at":  "now()",
			"kafka_offset": fmt.Sprintf("kafka_offset + %d", 1000000000*(part+1)),
		})
		q := fmt.Sprintf("INSERT INTO finding_events (%s)\nSELECT %s FROM (SELECT * FROM finding_events WHERE cityHash64(finding_id) %% 10 = %d ORDER BY finding_id, event_time DESC LIMIT 1 BY finding_id)",
			strings.Join(cols, ", "), strings.Join(exprs, ", "), part)
		if err := conn.Exec(context.Background(), q); err != nil {
			t.Error(err)
		}
	}
	for i, o := range []transform.Options{
		{AsOf: truth.End, Full: true},
		{AsOf: truth.End},
		{AsOf: truth.End, DeltaShare: 100},
		{AsOf: truth.End, DeltaShare: 100},
		{AsOf: truth.End, DeltaShare: 1e-9},
		{AsOf: truth.End, SLA: policy},
		{AsOf: truth.End, Full: true, SLA: policy},
	} {
		if o.DeltaShare > 0 {
			redeliver(i)
		}
		if rep := refresh(t, conn, o); o.DeltaShare == 100 && tableReport(t, rep, "findings").Delta == 0 {
			t.Errorf("refresh %d wrote no delta of findings", i+1)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if reads.Load() < 50 {
		t.Errorf("only %d reads during the refreshes: the test proves nothing", reads.Load())
	}
	t.Logf("%d concurrent reads, none saw a partial table", reads.Load())
}
