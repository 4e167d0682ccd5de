package migrations_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestClusterApply runs the --cluster DDL for real on ClickHouse 18.16: a
// local cluster of 2 shards x 2 replicas with ZooKeeper. The real
// migrations (minus column comments, see withoutComments) and the
// test-only ones (ALTER, INSERT; testdata/cluster18) are applied from one server; every server then has the tables, rows inserted through the
// Distributed table spread over both shards and reach both replicas of
// each, a replayed event still collapses under FINAL, and a second run
// from another server has nothing to do.
func TestClusterApply(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Logf("cluster of 4 servers + ZooKeeper up in %s", time.Since(start).Round(time.Millisecond))
	first, other := cl.Servers[0][0], cl.Servers[1][1]

	for _, tt := range []struct {
		db   string
		opts migrations.Options
	}{
		{"impact", migrations.Options{FS: withoutComments(t, os.DirFS("."))}},
		{"basic", testdata("cluster18")},
	} {
		opts := tt.opts
		opts.Cluster, opts.Database = cl.Name, tt.db
		// The database must exist where we connect; ON CLUSTER creates it
		// on the other servers.
		if err := chconn.EnsureDatabase(ctx, first.Config(tt.db)); err != nil {
			t.Fatal(err)
		}
		conn := open(t, first.Config(tt.db))
		r, err := migrations.Apply(ctx, conn, opts)
		if err != nil {
			// An ON CLUSTER statement once ran past the deadline in CI:
			// the servers' error logs say which host's DDL worker hung.
			for _, srv := range cl.All() {
				t.Logf("server %s:\n%s", srv.Addr(), srv.LogTail(4000))
			}
			t.Fatalf("%s: cluster apply: %v", tt.db, err)
		}
		t.Logf("%s: %s", tt.db, r)
		if len(r.Applied) == 0 {
			t.Fatalf("%s: nothing applied", tt.db)
		}
		// The record is replicated: another shard's server agrees.
		conn2 := open(t, other.Config(tt.db))
		r2, err := migrations.Apply(ctx, conn2, opts)
		if err != nil {
			t.Fatalf("%s: second cluster apply on another server: %v", tt.db, err)
		}
		if len(r2.Applied) != 0 || r2.Already != len(r.Applied) {
			t.Errorf("%s: second run from another server: %s", tt.db, r2)
		}
	}

	for _, s := range cl.All() {
		conn := open(t, s.Config("impact"))
		for _, tbl := range []string{"events_raw", "events_raw_local", "finding_events", "finding_events_local", "schema_migrations"} {
			if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = 'impact' AND name = ?", tbl); n != 1 {
				t.Errorf("server %s: table %s missing", s.Addr(), tbl)
			}
		}
		bconn := open(t, s.Config("basic"))
		if n := count(t, bconn, "SELECT count() FROM system.columns WHERE database = 'basic' AND table = 'events_local' AND name = 'subject'"); n != 1 {
			t.Errorf("server %s: ALTER did not reach events_local", s.Addr())
		}
	}

	// 200 events, the first 20 sent twice (a replay), written through the
	// Distributed table of one server, synchronously to the shards.
	const events, replayed = 200, 20
	conn := open(t, first.Config("impact"))
	sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	batch, err := conn.PrepareBatch(sync, "INSERT INTO events_raw (event_source, event_id, event_type, event_time, subject, entity_id, data_schema, payload, kafka_topic, kafka_partition, kafka_offset, ingested_at)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range events + replayed {
		id := i % events
		if err := batch.Append("test", fmt.Sprintf("e%d", id), "security.finding.opened", now, "", "f", "", "{}", "t", int32(0), int64(i), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	// Each row is written to one replica of its shard and replicated to
	// the other asynchronously: wait until both replicas of each shard
	// agree and the shards hold every row.
	conns := make([][]driver.Conn, len(cl.Servers))
	for s, shard := range cl.Servers {
		for _, srv := range shard {
			conns[s] = append(conns[s], open(t, srv.Config("impact")))
		}
	}
	var perShard []uint64
	deadline := time.Now().Add(time.Minute)
	for {
		perShard = perShard[:0]
		agree, total := true, uint64(0)
		for _, reps := range conns {
			first := count(t, reps[0], "SELECT count() FROM events_raw_local")
			for _, c := range reps[1:] {
				if count(t, c, "SELECT count() FROM events_raw_local") != first {
					agree = false
				}
			}
			perShard = append(perShard, first)
			total += first
		}
		if agree && total == events+replayed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas never converged: rows per shard (first replica) %v, replicas agree %v, want %d rows", perShard, agree, events+replayed)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if perShard[0] == 0 || perShard[1] == 0 {
		t.Errorf("rows per shard %v: sharding put everything on one shard", perShard)
	}
	// A replayed event collapses across the cluster.
	if n := count(t, open(t, other.Config("impact")), "SELECT count() FROM events_raw FINAL"); n != events {
		t.Errorf("distinct events through Distributed FINAL = %d, want %d", n, events)
	}
}

// withoutComments: see migrations.WithoutComments.
func withoutComments(t *testing.T, fsys fs.FS) fs.FS {
	t.Helper()
	out, err := migrations.WithoutComments(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
