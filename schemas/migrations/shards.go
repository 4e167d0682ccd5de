package migrations

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// In cluster mode the ALTER of a replicated <table>_local runs without ON
// CLUSTER, on one replica of each shard. ClickHouse 18.16's distributed
// DDL has every replica of a shard race to execute such an ALTER
// (DDLWorker::processTaskAlter); the loser's create of the shard's
// "executed" node fails with "Node exists", which the server logs as
// "Unexpected ZooKeeper error ... Terminating" before its DDL worker thread
// stops, and every later ON CLUSTER statement then waits for that server
// until distributed_ddl_task_timeout. An ALTER of a Replicated*MergeTree
// table on one replica is carried to the others by replication itself
// (18.16 waits for the active ones before it returns); the runner then
// waits until every server of the cluster shows the same columns, since
// the next statements (CREATE ... AS of the Distributed table) copy them.

// alterWait bounds the wait for every replica to show an ALTER's columns.
// 18.16's ALTER itself waits up to replication_alter_columns_timeout (60 s
// by default) for the active replicas; a replica that was down catches up
// when it is back, and until then the migration is not recorded.
const alterWait = 2 * time.Minute

// shardConns holds a connection to every server of the cluster, opened by
// Options.Dial on the first per-shard step.
type shardConns struct {
	opts   Options
	shards [][]server // by shard, replicas in replica_num order
}

type server struct {
	addr string
	conn driver.Conn
}

// ClusterServers returns the native addresses (host:port, the host as
// the cluster's configuration names it, an IPv6 address in brackets) of
// the servers of cluster as system.clusters on conn lists them, by shard,
// each shard's replicas in replica order. A name that does not resolve
// here (a name only the cluster's own network knows) gives the address the
// server resolved it to instead. Every step that talks to each
// server of a cluster (this runner's per-shard ALTERs, transform's
// watermark) finds them here.
func ClusterServers(ctx context.Context, conn driver.Conn, cluster string) ([][]string, error) {
	rows, err := conn.Query(ctx, sqlClusterHosts, cluster)
	if err != nil {
		return nil, fmt.Errorf("read servers of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var shards [][]string
	last := uint32(0)
	for rows.Next() {
		var shard uint32
		var host, resolved string
		var port uint16
		if err := rows.Scan(&shard, &host, &resolved, &port); err != nil {
			return nil, fmt.Errorf("read servers of cluster %s: %w", cluster, err)
		}
		if _, err := lookupHost(ctx, host); err != nil {
			host = resolved
		}
		addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
		if len(shards) == 0 || shard != last {
			shards = append(shards, nil)
			last = shard
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], addr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read servers of cluster %s: %w", cluster, err)
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("cluster %s: no servers in system.clusters", cluster)
	}
	return shards, nil
}

// lookupHost resolves a host name as the dialer will (a variable so that a
// test can make a name unresolvable).
var lookupHost = net.DefaultResolver.LookupHost

// open reads the cluster's servers (ClusterServers) through conn and
// connects to each.
func (sc *shardConns) open(ctx context.Context, conn driver.Conn) error {
	if sc.shards != nil {
		return nil
	}
	addrs, err := ClusterServers(ctx, conn, sc.opts.Cluster)
	if err != nil {
		return err
	}
	sc.shards = make([][]server, len(addrs))
	for i, reps := range addrs {
		for _, addr := range reps {
			c, err := sc.opts.Dial(ctx, addr)
			if err != nil {
				return fmt.Errorf("connect to %s of cluster %s: %w", addr, sc.opts.Cluster, err)
			}
			sc.shards[i] = append(sc.shards[i], server{addr: addr, conn: c})
		}
	}
	return nil
}

func (sc *shardConns) close() {
	for _, reps := range sc.shards {
		for _, s := range reps {
			if s.conn != nil {
				s.conn.Close()
			}
		}
	}
}

// alter runs the per-shard step st on the first replica of each shard and
// waits until every server of the cluster shows the same columns of its
// table. An ADD COLUMN is skipped on a shard whose replica has the column
// already, a DROP COLUMN on one whose replica has the table without it (a
// runner that failed half way through the shards), as on a single server.
// ran reports whether any shard ran it.
func (sc *shardConns) alter(ctx context.Context, conn driver.Conn, st step) (ran bool, err error) {
	if err := sc.open(ctx, conn); err != nil {
		return false, err
	}
	db := sc.opts.database()
	for _, reps := range sc.shards {
		target := reps[0]
		if c, ok := columnChange(st.sql); ok {
			// (on another server of the cluster, whose connection's
			// database is not relied on)
			done, err := c.done(ctx, target.conn, db)
			if err != nil {
				return ran, fmt.Errorf("on %s: %w", target.addr, err)
			}
			if done {
				continue
			}
		}
		if err := target.conn.Exec(ctx, st.sql); err != nil {
			return ran, fmt.Errorf("on %s: %w", target.addr, err)
		}
		ran = true
	}
	return ran, sc.waitColumns(ctx, st.table)
}

// waitColumns waits until every server shows the columns of db.table that
// the first shard's altered replica shows.
func (sc *shardConns) waitColumns(ctx context.Context, table string) error {
	db := sc.opts.database()
	ref := sc.shards[0][0]
	want, err := columnsOf(ctx, ref.conn, db, table)
	if err != nil {
		return fmt.Errorf("columns of %s.%s on %s: %w", db, table, ref.addr, err)
	}
	deadline := time.Now().Add(alterWait)
	for {
		var behind []string
		var got []string
		for _, reps := range sc.shards {
			for _, s := range reps {
				cols, err := columnsOf(ctx, s.conn, db, table)
				if err != nil {
					return fmt.Errorf("columns of %s.%s on %s: %w", db, table, s.addr, err)
				}
				if !slices.Equal(cols, want) {
					behind = append(behind, s.addr)
					got = cols
				}
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ALTER of %s.%s not applied on %s after %s (replication applies it once the replica is up; run migrate again then): columns there %q, on %s %q",
				db, table, strings.Join(behind, ", "), alterWait, got, ref.addr, want)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("wait for replicas of %s.%s to apply an ALTER: %w", db, table, err)
		}
	}
}

// columnsOf returns one line per column of db.table: name, type, default
// and comment.
func columnsOf(ctx context.Context, conn driver.Conn, db, table string) ([]string, error) {
	rows, err := conn.Query(ctx, sqlColumnsOf, db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
