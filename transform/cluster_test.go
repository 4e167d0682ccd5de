package transform_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/bulk"
)

// TestClusterSameAsSingleServer runs the transform against a cluster of 2
// shards x 2 replicas of ClickHouse 18.16 with ZooKeeper, migrated with
// `impact migrate --cluster` (typed tables Distributed over replicated
// shards), and against a single server, on the same events: the analyst
// tables must be equal, after a full refresh and after an incremental one
// that follows more events (written through one server's Distributed
// tables, synchronously, as ingest does).
func TestClusterSameAsSingleServer(t *testing.T) {
	// Starting waits while another package's cluster runs (chlocal
	// runs one at a time): the test's own deadline starts after it.
	startCtx, cancelStart := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancelStart()
	start := time.Now()
	cl, err := chlocal.StartCluster(startCtx, chlocal.ClusterOptions{Name: "impact_test", Shards: 2, Replicas: 2})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ccfg := cl.Servers[0][0].Config("impact")
	if err := chconn.EnsureDatabase(ctx, ccfg); err != nil {
		t.Fatal(err)
	}
	cconn, err := chconn.Open(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cconn.Close()
	dial := func(ctx context.Context, addr string) (driver.Conn, error) {
		c := ccfg
		c.Addr = addr
		return chconn.Open(ctx, c)
	}
	if _, err := migrations.Apply(ctx, cconn, migrations.Options{Database: "impact", Cluster: cl.Name, Dial: dial}); err != nil {
		t.Fatalf("migrate --cluster: %v", err)
	}
	t.Logf("cluster up and migrated in %s", time.Since(start).Round(time.Millisecond))
	scfg, sconn := openDB(t)
	sins, err := chconn.NewInserter(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sins.Close()
	cins, err := chconn.NewInserter(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cins.Close()
	cins = cins.WithSettings(map[string]string{"insert_distributed_sync": "1"})

	var lines [][]byte
	truth, err := simulate.Run(ctx, simulate.Options{Seed: 31, Days: 90}, func(r simulate.Record) error {
		lines = append(lines, r.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cut := len(lines) * 95 / 100
	load := func(part [][]byte) {
		t.Helper()
		for _, ins := range []*chconn.Inserter{sins, cins} {
			l := &bulk.Loader{Inserter: ins, IngestedAt: time.Now().Add(-time.Hour)}
			for _, v := range part {
				if err := l.Add(ctx, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := transform.Options{AsOf: truth.End}
	copts := opts
	copts.Cluster = cl.Name
	copts.Dial = dial
	compare := func(what string) {
		t.Helper()
		if _, err := transform.Refresh(ctx, sconn, opts); err != nil {
			t.Fatalf("single server %s refresh: %v", what, err)
		}
		rep, err := transform.Refresh(ctx, cconn, copts)
		if err != nil {
			for _, s := range cl.All() {
				t.Logf("server %s log:\n%s", s.Addr(), s.LogTail(30))
			}
			t.Fatalf("cluster %s refresh: %v", what, err)
		}
		t.Logf("cluster %s refresh: mode %s in %s", what, rep.Mode, rep.Duration.Round(time.Millisecond))
		single, cluster := snapshot(t, sconn), snapshot(t, cconn)
		for table, rows := range single {
			if rows == "" {
				t.Errorf("%s: empty on the single server", table)
			}
		}
		sameSnapshots(t, "cluster ("+what+")", cluster, single)
	}
	load(lines[:cut])
	compare("full")
	load(lines[cut:])
	compare("incremental")
}
