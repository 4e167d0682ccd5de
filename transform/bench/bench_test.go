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
