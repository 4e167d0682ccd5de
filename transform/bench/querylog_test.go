package bench

import (
	"context"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/testenv"
)

// TestQueryLogCPUCountsOwnQueries: the server CPU of a run is its own
// queries' only. Two clients of one server, as two benchmark runs sharing
// it: each one's sum holds its own query and not the other's. The
// connections log every query (open sets it, not the query).
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
}
