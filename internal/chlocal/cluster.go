package chlocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ClusterOptions configures StartCluster. The zero value is one shard of
// two replicas named "impact_cluster".
type ClusterOptions struct {
	Name      string // cluster name in remote_servers; default "impact_cluster"
	Shards    int    // default 1
	Replicas  int    // replicas per shard; default 2
	Server    Options
	ZooKeeper ZooKeeperOptions
}

// Cluster is a local ClickHouse cluster: one ZooKeeper and Shards x
// Replicas servers that know each other (remote_servers), with {shard} and
// {replica} macros and distributed DDL enabled, so `ON CLUSTER` DDL and
// Replicated*MergeTree tables work as in production.
type Cluster struct {
	Name      string
	ZooKeeper *ZooKeeper
	Servers   [][]*Server // [shard][replica]

	lock *os.File // held from start to Close (lockClusters)
}

// lockClusters takes the machine-wide lock that lets one local cluster run
// at a time. `go test` runs packages in parallel, and three of them start a
// cluster (four servers and ZooKeeper each); on two cores, clusters started
// side by side starved each other until an ON CLUSTER DDL outlived its
// test's deadline. The lock is an flock on a file in the temporary
// directory, released when its descriptor closes, also if the process dies.
func lockClusters(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "impact-chlocal-cluster.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("cluster lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another local cluster to stop: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StartCluster starts ZooKeeper and the servers and waits until all answer.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = "impact_cluster"
	}
	if opts.Shards <= 0 {
		opts.Shards = 1
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 2
	}
	lock, err := lockClusters(ctx)
	if err != nil {
		return nil, err
	}
	zk, err := StartZooKeeper(ctx, opts.ZooKeeper)
	if err != nil {
		lock.Close()
		return nil, err
	}
	c := &Cluster{Name: opts.Name, ZooKeeper: zk, lock: lock}
	n := opts.Shards * opts.Replicas
	// Every server's configuration names every other's native port, so
	// the ports are chosen before any server starts.
	ports, err := FreePorts(3 * n)
	if err != nil {
		zk.Close()
		return nil, err
	}
	var remote strings.Builder
	fmt.Fprintf(&remote, "<remote_servers><%s>", opts.Name)
	for s := range opts.Shards {
		remote.WriteString("<shard><internal_replication>true</internal_replication>")
		for r := range opts.Replicas {
			fmt.Fprintf(&remote, "<replica><host>127.0.0.1</host><port>%d</port></replica>", ports[3*(s*opts.Replicas+r)])
		}
		remote.WriteString("</shard>")
	}
	fmt.Fprintf(&remote, "</%s></remote_servers>", opts.Name)

	c.Servers = make([][]*Server, opts.Shards)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for s := range opts.Shards {
		c.Servers[s] = make([]*Server, opts.Replicas)
		for r := range opts.Replicas {
			i := s*opts.Replicas + r
			so := opts.Server
			// Debug logging is how we see each DDLWorker become ready
			// (see waitDDLWorkers).
			so.LogLevel = "debug"
			so.TCPPort, so.HTTPPort, so.InterserverPort = ports[3*i], ports[3*i+1], ports[3*i+2]
			// Replica names are unique across the cluster, so tables
			// replicated over all shards (one ZooKeeper path without
			// {shard}) work too.
			so.ExtraConfig = opts.Server.ExtraConfig + remote.String() + fmt.Sprintf(`
<zookeeper><node><host>127.0.0.1</host><port>%d</port></node><session_timeout_ms>30000</session_timeout_ms></zookeeper>
<macros><shard>%02d</shard><replica>s%02dr%02d</replica><cluster>%s</cluster></macros>
<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`, zk.Port(), s+1, s+1, r+1, opts.Name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv, err := Start(ctx, so)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("cluster server shard %d replica %d: %w", s+1, r+1, err))
					return
				}
				c.Servers[s][r] = srv
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.waitDDLWorkers(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// waitDDLWorkers waits until every server's DDLWorker has its ZooKeeper
// session. ClickHouse 18.16 crashes (NULL pointer in
// zkutil::ZooKeeper::createImpl) when an ON CLUSTER query arrives before
// that, which takes up to a second after "Ready for connections".
func (c *Cluster) waitDDLWorkers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, s := range c.All() {
		for !s.logContains("DDLWorker: Processing tasks") {
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster server %s: distributed DDL worker not ready: %w\n%s", s.Addr(), ctx.Err(), s.LogTail(2000))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// All returns every server, shard by shard.
func (c *Cluster) All() []*Server {
	var out []*Server
	for _, shard := range c.Servers {
		out = append(out, shard...)
	}
	return out
}

// Close stops every server and ZooKeeper and removes their directories.
func (c *Cluster) Close() error {
	var errs []error
	for _, s := range c.All() {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if c.ZooKeeper != nil {
		errs = append(errs, c.ZooKeeper.Close())
	}
	if c.lock != nil {
		errs = append(errs, c.lock.Close())
		c.lock = nil
	}
	return errors.Join(errs...)
}
