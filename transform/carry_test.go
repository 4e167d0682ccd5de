package transform_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestCarryCopyWritesSmallBlocks: the copy of a rebuilt partition's
// unchanged rows reaches the server with the smaller insert blocks
// (transform's copySettings: without them the copy of the open findings
// holds them all in one block), and the connection's own settings
// (log_queries here) still reach it beside them.
func TestCarryCopyWritesSmallBlocks(t *testing.T) {
	t.Parallel()
	cfg, conn := openDB(t)
	ctx := context.Background()
	logged := loggedConn(t, cfg, "carry-test")
	defer logged.Close()

	now := time.Now().UTC().Truncate(time.Second)
	truth, rest := loadSimulation(t, conn, simulate.Options{Seed: 29, Days: 60}, 0.97, now.Add(-time.Hour), now)
	ropts := transform.Options{AsOf: truth.End, Overlap: time.Second}
	time.Sleep(3 * time.Second) // the loaded rows are stamped before the watermark
	refresh(t, conn, ropts)
	time.Sleep(2 * time.Second) // the new rows are stamped after the watermark
	rest()
	var from time.Time
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&from); err != nil {
		t.Fatal(err)
	}
	rep, err := transform.Refresh(ctx, logged, ropts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != transform.Incremental {
		t.Fatalf("second refresh is %s, want incremental", rep.Mode)
	}
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	// The server's limit on partitions per INSERT, which the refresh lifts
	// on current releases, does not exist on 18.16: only the copy's own
	// settings are checked.
	rows, err := conn.Query(ctx, `SELECT query,
	    Settings.Values[indexOf(Settings.Names, 'min_insert_block_size_rows')],
	    Settings.Values[indexOf(Settings.Names, 'min_insert_block_size_bytes')],
	    Settings.Values[indexOf(Settings.Names, 'log_queries')]
	FROM system.query_log
	WHERE type = 2 AND event_time >= @from AND position(client_name, @tag) > 0
	    AND position(query, 'carry over the unchanged entities') > 0`,
		clickhouse.Named("from", from), clickhouse.Named("tag", logTag("carry-test", cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var q, minRows, minBytes, log string
		if err := rows.Scan(&q, &minRows, &minBytes, &log); err != nil {
			t.Fatal(err)
		}
		n++
		if minRows != "262144" || minBytes != "67108864" || log != "1" {
			t.Errorf("copy ran with min_insert_block_size_rows %q, min_insert_block_size_bytes %q, log_queries %q; want 262144, 67108864, 1:\n%.200s",
				minRows, minBytes, log, q)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no partition copy in the query log: the incremental refresh rebuilt no partition")
	}
}
