package transform_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestRefreshAtomicForReaders reads the contract tables in a tight loop
// from several connections while refreshes run (full, incremental, and one
// with a changed SLA policy, which rebuilds the findings table under a new
// version): a reader must always see the complete table, never an error,
// an empty table or a partial row count.
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
			for ctx.Err() == nil {
				var n uint64
				if err := c.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
					if ctx.Err() == nil {
						select {
						case errs <- table + ": " + err.Error():
						default:
						}
					}
					continue
				}
				reads.Add(1)
				if n != want[table] {
					select {
					case errs <- fmt.Sprintf("%s: saw %d rows, want %d", table, n, want[table]):
					default:
					}
				}
			}
		}()
	}
	policy := transform.DefaultSLAPolicy
	policy.Version = "test-stricter"
	policy.Critical = 7 * 24 * time.Hour
	for _, o := range []transform.Options{
		{AsOf: truth.End, Full: true},
		{AsOf: truth.End},
		{AsOf: truth.End, SLA: policy},
		{AsOf: truth.End, Full: true, SLA: policy},
	} {
		refresh(t, conn, o)
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
