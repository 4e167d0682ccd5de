package ingest_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/testenv"
)

// TestCrashRestart kills `impact ingest` (SIGKILL, a separate process) at
// several points of a stream and restarts it; a final --drain run must
// leave every count exact: replays after the crashes are absorbed by the
// ReplacingMergeTree tables read with FINAL.
func TestCrashRestart(t *testing.T) {
	t.Parallel()
	bin := buildImpact(t)
	kc := testenv.Kafka(t)
	cc := ownClickHouse(t)
	conn := openCH(t, cc)
	killOrphanInserts(t, conn)
	group := groupName(t)
	env := childEnv(kc, cc)

	d := makeDataset(t, kc.Topics, 15000, 1000, "crash")
	// Produce in waves so the ingester is killed with work in flight:
	// small batches and a small memory budget keep it mid-stream.
	waves := [][]kafka.Message{d.msgs[:len(d.msgs)/3], d.msgs[len(d.msgs)/3 : 2*len(d.msgs)/3], d.msgs[2*len(d.msgs)/3:]}
	args := []string{"--group", group, "--batch-rows", "500", "--memory-budget-mib", "2"}

	rows := func() uint64 { return queryUint(t, conn, "SELECT count() FROM events_raw") }
	kills := 0
	for i, wave := range waves {
		produce(t, kc, wave)
		p := startIngest(t, bin, env, args...)
		// Kill points: right after start (before or while joining), after
		// the first rows of the wave landed, and mid-wave.
		switch i {
		case 0:
			time.Sleep(300 * time.Millisecond)
		case 1:
			before := rows()
			waitUntil(t, time.Minute, "first rows of wave 2", func() bool { return rows() > before })
		case 2:
			before := rows()
			waitUntil(t, time.Minute, "half of wave 3", func() bool { return rows() > before+uint64(len(wave)/2) })
		}
		if !p.running() {
			t.Fatalf("ingester exited before the kill: %v\n%s", p.err, p.logs())
		}
		p.kill()
		kills++
		t.Logf("killed after wave %d: %d rows written so far (with replays)", i+1, rows())
	}

	final := startIngest(t, bin, env, append(args, "--drain")...)
	if err := final.wait(3 * time.Minute); err != nil {
		t.Fatalf("ingest --drain: %v\n%s", err, final.logs())
	}
	checkStored(t, conn, d)
	checkCommitted(t, kc, group)
	written := rows()
	t.Logf("%d kills; events_raw holds %d rows for %d events (replays collapse under FINAL)", kills, written, d.valid)
}

// TestGroupTakeover runs two ingesters in one group: both get partitions;
// one is killed; the other takes its partitions over and, after more
// events, the counts are exact. The survivor then stops on SIGTERM with a
// clean exit (graceful shutdown: flush, commit, leave).
func TestGroupTakeover(t *testing.T) {
	t.Parallel()
	bin := buildImpact(t)
	kc := testenv.Kafka(t)
	cc := ownClickHouse(t)
	conn := openCH(t, cc)
	group := groupName(t)
	env := childEnv(kc, cc)
	args := []string{"--group", group, "--batch-rows", "1000"}

	d := makeDataset(t, kc.Topics, 10000, 500, "group")
	half := len(d.msgs) / 2
	produce(t, kc, d.msgs[:half])

	killOrphanInserts(t, conn)
	a := startIngest(t, bin, env, args...)
	b := startIngest(t, bin, env, args...)
	total := float64(5 * testenv.KafkaPartitions)
	waitUntil(t, 2*time.Minute, "both members assigned, all partitions covered", func() bool {
		pa, pb := a.metric("impact_ingest_assigned_partitions"), b.metric("impact_ingest_assigned_partitions")
		return pa > 0 && pb > 0 && pa+pb == total
	})
	t.Logf("partitions: a=%v b=%v", a.metric("impact_ingest_assigned_partitions"), b.metric("impact_ingest_assigned_partitions"))
	waitUntil(t, time.Minute, "first rows", func() bool {
		return queryUint(t, conn, "SELECT count() FROM events_raw") > 0
	})
	a.kill()

	produce(t, kc, d.msgs[half:])
	waitUntil(t, 2*time.Minute, "survivor owns every partition", func() bool {
		return b.metric("impact_ingest_assigned_partitions") == total
	})
	waitUntil(t, 3*time.Minute, "group caught up", func() bool { return caughtUp(t, kc, group) })
	if !b.running() {
		t.Fatalf("survivor exited: %v", b.err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.wait(time.Minute); err != nil {
		t.Fatalf("survivor after SIGTERM: %v (want exit 0)", err)
	}
	checkStored(t, conn, d)
	checkCommitted(t, kc, group)
}

// ownClickHouse returns a migrated database on a ClickHouse server of this
// test alone: killOrphanInserts kills every open INSERT of the server (it
// matches the query text, which names no database), and on the shared
// server that would break the tests running in parallel.
func ownClickHouse(t *testing.T) config.ClickHouse {
	t.Helper()
	cc := testenv.ClickHouseServer(t).Config(testenv.DatabaseName(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := migrate(ctx, cc); err != nil {
		t.Fatalf("migrate %s: %v", cc.Database, err)
	}
	return cc
}

// killOrphanInserts registers a cleanup (run before the database is
// dropped) that kills INSERTs still open on the server: an INSERT whose
// client was SIGKILLed between sending the query and its data can stay
// open on ClickHouse 18.16 until its receive timeout, and DROP DATABASE
// waits for it.
func killOrphanInserts(t *testing.T, conn driver.Conn) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rows, err := conn.Query(ctx, "SELECT query_id, elapsed, query FROM system.processes WHERE query LIKE 'INSERT INTO %'")
		if err != nil {
			t.Logf("list open inserts: %v", err)
			return
		}
		var ids []string
		for rows.Next() {
			var id, q string
			var elapsed float64
			if err := rows.Scan(&id, &elapsed, &q); err == nil {
				t.Logf("open INSERT after the test (%.1fs): %.80s", elapsed, q)
				ids = append(ids, id)
			}
		}
		rows.Close()
		for _, id := range ids {
			if err := conn.Exec(ctx, "KILL QUERY WHERE query_id = ? SYNC", id); err != nil {
				t.Logf("kill query %s: %v", id, err)
			}
		}
	})
}
