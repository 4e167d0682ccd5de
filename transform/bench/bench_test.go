package bench_test

import (
	"context"
	"testing"

	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/transform/bench"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRunSmall runs the benchmark end to end at a small volume: it must
// load rows, refresh in full, then refresh incrementally touching only a
// few entities.
func TestRunSmall(t *testing.T) {
	t.Parallel()
	cc := testenv.ClickHouseEmpty(t)
	res, err := bench.Run(context.Background(), bench.Options{Events: 30_000, Seed: 2, ClickHouse: cc})
	if err != nil {
		t.Fatal(err)
	}
	if res.LoadedRows < 20_000 || res.FullSeconds <= 0 || res.IncrementalSeconds <= 0 || res.IncrementalEvents != 300 {
		t.Errorf("implausible result: %+v", res)
	}
	for _, table := range []string{"findings", "deal_facts", "deployment_facts", "ticket_facts"} {
		if res.Rows[table] == 0 || res.Touched[table] == 0 || res.Touched[table] >= res.Rows[table] {
			t.Errorf("%s: %d rows, %d touched by the incremental refresh", table, res.Rows[table], res.Touched[table])
		}
	}
	t.Logf("%+v", res)
}

// TestReuseLoad: a second run with ReuseLoad restores the kept load
// instead of loading again and measures the same tables.
func TestReuseLoad(t *testing.T) {
	t.Parallel()
	cc := testenv.ClickHouseEmpty(t)
	opts := bench.Options{Events: 20_000, Seed: 3, ClickHouse: cc, ReuseLoad: true}
	first, err := bench.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	second, err := bench.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.LoadReused || !second.LoadReused || second.LoadedRows != first.LoadedRows || second.IncrementalEvents != first.IncrementalEvents {
		t.Errorf("first run: reused %v, %d rows, %d incremental events; second: reused %v, %d rows, %d incremental events",
			first.LoadReused, first.LoadedRows, first.IncrementalEvents, second.LoadReused, second.LoadedRows, second.IncrementalEvents)
	}
	for table, r := range first.Full.Tables {
		if second.Full.Tables[table].Rows != r.Rows {
			t.Errorf("%s: %d rows after the full refresh of the first run, %d after the second's", table, r.Rows, second.Full.Tables[table].Rows)
		}
	}
	for i := range first.Incremental {
		for table, r := range first.Incremental[i].Tables {
			if second.Incremental[i].Tables[table].Rows != r.Rows {
				t.Errorf("%s: %d rows after incremental %d of the first run, %d after the second's", table, r.Rows, i+1, second.Incremental[i].Tables[table].Rows)
			}
		}
	}
}
