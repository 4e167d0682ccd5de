package migrations_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestClusterApply runs the --cluster DDL for real on ClickHouse 18.16: a
// local cluster of 2 shards x 2 replicas with ZooKeeper. The real
// migrations (Apply leaves their column comments out on 18.16) and the
// test-only ones (ADD and DROP COLUMN, INSERT; testdata/cluster18) are
// applied from one server; every server then has the tables, rows
// inserted through the Distributed table spread over both shards and
// reach both replicas of each, a replayed event still collapses under
// FINAL, and a second run from another server has nothing to do.
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
		// The embedded migrations as `impact migrate --cluster` runs them:
		// Apply leaves the column comments out on 18.16 by itself.
		{"impact", migrations.Options{}},
		{"basic", testdata("cluster18")},
	} {
		opts := tt.opts
		opts.Cluster, opts.Database = cl.Name, tt.db
		opts.Dial = func(ctx context.Context, addr string) (driver.Conn, error) {
			c := first.Config(tt.db)
			c.Addr = addr
			return chconn.Open(ctx, c)
		}
		// The database must exist where we connect; ON CLUSTER creates it
		// on the other servers.
		if err := chconn.EnsureDatabase(ctx, first.Config(tt.db)); err != nil {
			t.Fatal(err)
		}
		conn := open(t, first.Config(tt.db))
		if tt.db == "basic" {
			// A runner that failed after altering the first shard: the
			// column subject is there on shard 1 (both replicas), not on
			// shard 2, and 0002 is not recorded. The next run must skip
			// the ADD on shard 1 and make it on shard 2. Then the same for
			// 0003's DROP: legacy gone from shard 1 only, 0003 not
			// recorded; the run below must skip it on shard 1.
			only := opts
			only.FS = fstest.MapFS{"0001_events.sql": {Data: readFile(t, "testdata/cluster18/0001_events.sql")}}
			if _, err := migrations.Apply(ctx, conn, only); err != nil {
				t.Fatalf("basic: apply 0001: %v", err)
			}
			if err := conn.Exec(ctx, "ALTER TABLE basic.events_local ADD COLUMN subject String DEFAULT ''"); err != nil {
				t.Fatal(err)
			}
			upTo2 := opts
			upTo2.FS = fstest.MapFS{
				"0001_events.sql": {Data: readFile(t, "testdata/cluster18/0001_events.sql")},
				"0002_alter.sql":  {Data: readFile(t, "testdata/cluster18/0002_alter.sql")},
			}
			if _, err := migrations.Apply(ctx, conn, upTo2); err != nil {
				t.Fatalf("basic: apply 0002 after its ADD reached shard 1 only: %v", err)
			}
			if err := conn.Exec(ctx, "ALTER TABLE basic.events_local DROP COLUMN legacy"); err != nil {
				t.Fatal(err)
			}
		}
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
		if len(r2.Applied) != 0 || r2.Already != r.Already+len(r.Applied) {
			t.Errorf("%s: second run from another server: %s", tt.db, r2)
		}
		if tt.db == "impact" {
			// The records hold the files' checksums, not those of the DDL
			// without comments: a server upgraded to a release that
			// replicates comments finds nothing changed.
			all, err := migrations.Load(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range all {
				if n := count(t, conn, "SELECT count() FROM impact.schema_migrations WHERE version = ? AND checksum = ?", uint32(m.Version), m.Checksum); n == 0 {
					t.Errorf("migration %s: not recorded with its file's checksum %s", m.Name, m.Checksum)
				}
			}
		}
	}

	for _, s := range cl.All() {
		conn := open(t, s.Config("impact"))
		for _, tbl := range []string{"events_raw", "events_raw_local", "finding_events", "finding_events_local", "schema_migrations"} {
			if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = 'impact' AND name = ?", tbl); n != 1 {
				t.Errorf("server %s: table %s missing", s.Addr(), tbl)
			}
		}
		// The ALTERs reached every replica, and the recreated Distributed
		// tables have their columns.
		for _, tbl := range []string{"finding_events_local", "finding_events", "service_events_local", "service_events"} {
			if n := count(t, conn, "SELECT count() FROM system.columns WHERE database = 'impact' AND table = ? AND name = 'inserted_at' AND default_kind = 'DEFAULT'", tbl); n != 1 {
				t.Errorf("server %s: %s has no inserted_at DEFAULT (migrations 0004, 0006)", s.Addr(), tbl)
			}
		}
		bconn := open(t, s.Config("basic"))
		for _, tbl := range []string{"events_local", "events"} {
			if n := count(t, bconn, "SELECT count() FROM system.columns WHERE database = 'basic' AND table = ? AND name = 'subject'", tbl); n != 1 {
				t.Errorf("server %s: ALTER did not reach %s", s.Addr(), tbl)
			}
			if n := count(t, bconn, "SELECT count() FROM system.columns WHERE database = 'basic' AND table = ? AND name = 'legacy'", tbl); n != 0 {
				t.Errorf("server %s: DROP COLUMN did not reach %s", s.Addr(), tbl)
			}
		}
	}
	checkNoDistributedAlterOfLocal(ctx, t, open(t, first.Config("impact")))

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

// checkNoDistributedAlterOfLocal fails when a distributed DDL task (the
// ON CLUSTER queue in ZooKeeper) altered a replicated <table>_local: on
// 18.16 such a task can stop a server's DDL worker for good (cluster.go),
// so the runner alters those tables on one replica per shard instead.
func checkNoDistributedAlterOfLocal(ctx context.Context, t *testing.T, conn driver.Conn) {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT name, value FROM system.zookeeper WHERE path = '/clickhouse/task_queue/ddl'")
	if err != nil {
		t.Fatalf("read the distributed DDL queue: %v", err)
	}
	defer rows.Close()
	alterLocal := regexp.MustCompile(`(?m)^query: ALTER TABLE \w+\.\w+_local\b`)
	tasks := 0
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			t.Fatal(err)
		}
		tasks++
		if alterLocal.MatchString(value) {
			t.Errorf("distributed DDL task %s alters a replicated table ON CLUSTER:\n%s", name, value)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if tasks == 0 {
		t.Errorf("no distributed DDL tasks in ZooKeeper: the check above looked at nothing")
	}
	t.Logf("%d distributed DDL tasks, none an ALTER of a replicated table", tasks)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
