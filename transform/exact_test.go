package transform_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// sameSnapshots reports every table whose rows differ between two
// snapshots, with the first differing line.
func sameSnapshots(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for table, rows := range want {
		if got[table] == rows {
			continue
		}
		g, w := strings.Split(got[table], "\n"), strings.Split(rows, "\n")
		for i := 0; i < len(g) || i < len(w); i++ {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Errorf("%s: %s has %d rows, a full rebuild %d; first difference:\n%s %s\nfull %s", table, what, len(g), len(w), what, gl, wl)
				break
			}
		}
	}
}

// TestIncrementalSeesLateLandingRows (issue 13, item 7): a batch fetched
// two hours ago that lands only now (an ingester retrying through a
// ClickHouse outage, while another partition's fresher batch was already
// transformed) must be picked up by the next incremental refresh, not
// only by a full one. The ingest fetch time (ingested_at) of the late rows
// is older than every row the previous refresh saw.
func TestIncrementalSeesLateLandingRows(t *testing.T) {
	conn := open(t)
	now := time.Now().UTC().Truncate(time.Second)
	truth, late := loadSimulation(t, conn, simulate.Options{Seed: 21, Days: 120}, 0.9, now.Add(-time.Hour), now.Add(-2*time.Hour))
	opts := transform.Options{AsOf: truth.End}
	refresh(t, conn, opts)
	late()
	if rep := refresh(t, conn, opts); rep.Mode != transform.Incremental {
		t.Fatalf("second refresh is %s, want incremental", rep.Mode)
	}
	inc := snapshot(t, conn)
	compareTruth(t, conn, truth)
	refresh(t, conn, transform.Options{AsOf: truth.End, Full: true})
	sameSnapshots(t, "incremental", inc, snapshot(t, conn))
}

// TestIncrementalSeesInsertsInFlight (issue 13, item 7): an INSERT that is
// running while a refresh starts writes rows that the server stamps before
// the refresh began but that become visible only when the INSERT commits,
// after the refresh read the typed tables (18.16 stamps each row as the
// SELECT produces it and commits the squashed block at the end). Its rows
// were fetched an hour earlier. The next incremental refresh must include
// them, even with no overlap configured.
func TestIncrementalSeesInsertsInFlight(t *testing.T) {
	cfg, conn := openDB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	truth, _ := loadSimulation(t, conn, simulate.Options{Seed: 22, Days: 60}, 1, now.Add(-time.Hour), time.Time{})
	opts := transform.Options{AsOf: truth.End, Overlap: time.Nanosecond}
	refresh(t, conn, opts)

	cols := typedColumns(t, conn, "finding_events")
	// Twelve new findings (copies of one under new ids), one a second.
	exprs := columnExprs(cols, map[string]string{
		"finding_id":  "concat('in-flight-', toString(n))",
		"event_id":    "concat('in-flight-event-', toString(n))",
		"ingested_at": "now() - 3600",
	})
	const slow = 12
	insert := "INSERT INTO finding_events (" + strings.Join(cols, ", ") + ")\nSELECT " + strings.Join(exprs, ", ") +
		// The slow side streams on the left (the right side of a join is
		// read in full first).
		"\nFROM (SELECT number AS n FROM system.numbers WHERE sleepEachRow(1) = 0 LIMIT " + fmt.Sprint(slow) + ") AS slow" +
		"\nCROSS JOIN (SELECT * FROM finding_events LIMIT 1) AS one" +
		"\nSETTINGS max_block_size = 1"
	writer, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	inserted := make(chan error, 1)
	go func() { inserted <- writer.Exec(ctx, insert) }()
	time.Sleep(3 * time.Second)   // rows are being stamped
	rep := refresh(t, conn, opts) // reads the tables while the INSERT runs
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}
	var stamped time.Time
	if err := conn.QueryRow(ctx, "SELECT min(inserted_at) FROM finding_events WHERE startsWith(finding_id, 'in-flight-')").Scan(&stamped); err == nil {
		t.Logf("first in-flight row stamped %s, refresh watermark %s", stamped.UTC().Format(time.TimeOnly), rep.Watermark.UTC().Format(time.TimeOnly))
	}
	refresh(t, conn, opts)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM findings WHERE startsWith(finding_id, 'in-flight-')").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != slow {
		t.Errorf("findings written by an INSERT in flight during a refresh: %d after the next refresh, want %d", n, slow)
	}
}

// TestConcurrentRefreshes (issue 13, item 8): two refreshes of one
// database at once (a service replica and an operator's --once), full and
// then incremental, must leave every table exactly as one refresh would:
// the second waits for the first.
func TestConcurrentRefreshes(t *testing.T) {
	cfg, conn := openDB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	truth, rest := loadSimulation(t, conn, simulate.Options{Seed: 23, Days: 90}, 0.9, now.Add(-2*time.Hour), now.Add(-time.Hour))
	opts := transform.Options{AsOf: truth.End}
	both := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			c, err := chconn.Open(ctx, cfg) // another process's connection
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = transform.Refresh(ctx, c, opts)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("concurrent refresh: %v", err)
			}
		}
	}
	both()
	got := snapshot(t, conn)
	refresh(t, conn, transform.Options{AsOf: truth.End, Full: true})
	sameSnapshots(t, "after two concurrent full refreshes", got, snapshot(t, conn))

	rest()
	both()
	got = snapshot(t, conn)
	compareTruth(t, conn, truth)
	refresh(t, conn, transform.Options{AsOf: truth.End, Full: true})
	sameSnapshots(t, "after two concurrent incremental refreshes", got, snapshot(t, conn))
}

// columnExprs lists cols, each replaced by its expression in replace, if
// any: the SELECT list of an INSERT copying rows with some values changed.
func columnExprs(cols []string, replace map[string]string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c
		if e, ok := replace[c]; ok {
			out[i] = e
		}
	}
	return out
}

// typedColumns lists the columns of a typed table that an INSERT names:
// every one but the server-stamped inserted_at and MATERIALIZED ones.
func typedColumns(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = @table AND default_kind != 'MATERIALIZED' AND name != 'inserted_at'",
		clickhouse.Named("table", table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}
