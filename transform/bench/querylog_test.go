package bench

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/secimpact/impact/internal/testenv"
)

// TestQueryLogCPUCountsOwnQueries: the server CPU of a run is its own
// queries' only. Two clients of one server, as two benchmark runs sharing
// it: each one's sum holds its own query and not the other's. The
// connections log every query (open sets it, not the query), but not each
// query's threads (query_thread_log, which the benchmark does not read).
func TestQueryLogCPUCountsOwnQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := testenv.ClickHouseEmpty(t), testenv.ClickHouseEmpty(t)
	connA, err := open(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer connA.Close()
	connB, err := open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer connB.Close()
	var t0 time.Time
	if err := connA.QueryRow(ctx, "SELECT now()").Scan(&t0); err != nil {
		t.Fatal(err)
	}
	var n uint64
	// Some hundred milliseconds of CPU on A only.
	if err := connA.QueryRow(ctx, "SELECT count() FROM numbers(30000000) WHERE cityHash64(number) % 7 = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	cpuA, sysA, err := queryLogCPU(ctx, connA, t0, clientTag(a))
	if err != nil {
		t.Fatal(err)
	}
	cpuB, _, err := queryLogCPU(ctx, connB, t0, clientTag(b))
	if err != nil {
		t.Fatal(err)
	}
	if cpuA <= 0 {
		t.Errorf("run A's own query not counted: %v s", cpuA)
	}
	// The query hashes numbers: nearly all user time.
	if sysA < 0 || sysA >= cpuA {
		t.Errorf("run A's system CPU %v s of %v s in all: want a part of it", sysA, cpuA)
	}
	if cpuB >= cpuA {
		t.Errorf("run B counts run A's query: A %v s, B %v s", cpuA, cpuB)
	}
	// The server creates the table when it first writes a row to it.
	var exists, threads uint64
	if err := connA.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'query_thread_log'").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists > 0 {
		if err := connA.QueryRow(ctx, "SELECT count() FROM system.query_thread_log WHERE event_date >= toDate(@from) AND event_time >= @from AND position(client_name, @tag) > 0",
			clickhouse.Named("from", t0), clickhouse.Named("tag", clientTag(a))).Scan(&threads); err != nil {
			t.Fatal(err)
		}
	}
	if threads != 0 {
		t.Errorf("query_thread_log has %d rows of run A's threads, want none (log_query_threads = 0)", threads)
	}
}
