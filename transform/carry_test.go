package transform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestIncrementalWritesSmallBlocks: every INSERT of an incremental refresh
// (the partition copies, the recomputes, the delta carry-overs, the
// touches) reaches the server with the smaller insert blocks (transform's
// incrementalBlocks: without them the copy of the open findings holds
// them all in one block), and the connection's own settings (log_queries
// here) still reach it beside them; a full refresh, the first or one
// asked for later, keeps the server's defaults.
func TestIncrementalWritesSmallBlocks(t *testing.T) {
	t.Parallel()
	cfg, conn := openDB(t)
	ctx := context.Background()
	opts, err := chconn.Options(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Logged at the connection: per-query settings are the refresh's own.
	// Tagged: 18.16's query log does not say which database a query used.
	opts.Settings = clickhouse.Settings{"log_queries": 1}
	opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{Name: "carry-test", Version: cfg.DB()})
	logged, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer logged.Close()

	now := time.Now().UTC().Truncate(time.Second)
	truth, rest := loadSimulation(t, conn, simulate.Options{Seed: 29, Days: 60}, 0.97, now.Add(-time.Hour), now)
	ropts := transform.Options{AsOf: truth.End, Overlap: time.Second}
	time.Sleep(3 * time.Second) // the loaded rows are stamped before the watermark
	serverNow := func() time.Time {
		var at time.Time
		if err := conn.QueryRow(ctx, "SELECT now()").Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	fullFrom := serverNow()
	if rep, err := transform.Refresh(ctx, logged, ropts); err != nil {
		t.Fatal(err)
	} else if rep.Mode != transform.Full {
		t.Fatalf("first refresh is %s, want full", rep.Mode)
	}
	time.Sleep(2 * time.Second) // the new rows are stamped after the watermark
	rest()
	from := serverNow()
	rep, err := transform.Refresh(ctx, logged, ropts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != transform.Incremental {
		t.Fatalf("second refresh is %s, want incremental", rep.Mode)
	}
	// A full refresh asked for after incremental ones keeps the defaults too.
	time.Sleep(1100 * time.Millisecond) // its inserts are logged in later seconds
	forcedFrom := serverNow()
	forced := ropts
	forced.Full = true
	if rep, err := transform.Refresh(ctx, logged, forced); err != nil {
		t.Fatal(err)
	} else if rep.Mode != transform.Full {
		t.Fatalf("third refresh is %s, want full", rep.Mode)
	}
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	// The server's limit on partitions per INSERT, which the refresh lifts
	// on current releases, does not exist on 18.16: only the block sizes
	// are checked. The first full refresh's inserts ran before from, the
	// incremental's from then until forced_from, the forced full's after.
	rows, err := conn.Query(ctx, `SELECT query, event_time >= @from AND event_time < @forced_from,
	    Settings.Values[indexOf(Settings.Names, 'min_insert_block_size_rows')],
	    Settings.Values[indexOf(Settings.Names, 'min_insert_block_size_bytes')],
	    Settings.Values[indexOf(Settings.Names, 'log_queries')]
	FROM system.query_log
	WHERE type = 2 AND event_time >= @full_from AND position(client_name, @tag) > 0
	    AND position(query, 'INSERT INTO') > 0
	    -- (The refresh lock, taken before the refresh knows its mode.)
	    AND position(query, 'schema_migrations_lock') = 0`,
		clickhouse.Named("from", from), clickhouse.Named("full_from", fullFrom), clickhouse.Named("forced_from", forcedFrom),
		clickhouse.Named("tag", "carry-test/"+cfg.DB()+" "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var full, incremental, copies int
	for rows.Next() {
		var q, minRows, minBytes, log string
		var inc uint8
		if err := rows.Scan(&q, &inc, &minRows, &minBytes, &log); err != nil {
			t.Fatal(err)
		}
		if inc == 0 {
			full++
			if minRows == "262144" || minBytes == "67108864" || log != "1" {
				t.Errorf("a full refresh's insert ran with min_insert_block_size_rows %q, min_insert_block_size_bytes %q, log_queries %q; want the defaults and 1:\n%.200s",
					minRows, minBytes, log, q)
			}
			continue
		}
		incremental++
		if strings.Contains(q, "carry over the unchanged entities") {
			copies++
		}
		if minRows != "262144" || minBytes != "67108864" || log != "1" {
			t.Errorf("incremental refresh's insert ran with min_insert_block_size_rows %q, min_insert_block_size_bytes %q, log_queries %q; want 262144, 67108864, 1:\n%.200s",
				minRows, minBytes, log, q)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if full == 0 || incremental == 0 || copies == 0 {
		t.Fatalf("in the query log: %d inserts of the full refreshes, %d of the incremental, %d partition copies; want some of each", full, incremental, copies)
	}
}
