package chlocal_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/readonly"
)

// query runs sql over the server's HTTP interface, so these tests do not
// depend on the Go driver.
func query(t *testing.T, s *chlocal.Server, user, sql string) (string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr()+"/?user="+user, strings.NewReader(sql))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

func mustQuery(t *testing.T, s *chlocal.Server, sql string) string {
	t.Helper()
	out, err := query(t, s, "default", sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func start(t *testing.T) *chlocal.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		t.Fatalf("start clickhouse: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestStartQueryClose(t *testing.T) {
	s := start(t)
	if got := mustQuery(t, s, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1 = %q", got)
	}
	if got := mustQuery(t, s, "SELECT timezone()"); got != "UTC" && got != "Etc/UTC" {
		t.Errorf("server timezone = %q, want UTC", got)
	}
	// Data and logs stay inside the server's own directory.
	for _, sub := range []string{"data", "log/clickhouse-server.log", "config.xml", "users.xml"} {
		if _, err := os.Stat(filepath.Join(s.Dir(), sub)); err != nil {
			t.Errorf("%s: %v", sub, err)
		}
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || !strings.HasPrefix(s.HTTPAddr(), "127.0.0.1:") {
		t.Errorf("addresses not on loopback: %s %s", s.Addr(), s.HTTPAddr())
	}
	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s still exists after Close (err=%v)", dir, err)
	}
	if s.Running() {
		t.Error("Running() after Close")
	}
	if _, err := query(t, s, "default", "SELECT 1"); err == nil {
		t.Error("query succeeded after Close")
	}
}

func TestReaderUser(t *testing.T) {
	s := start(t)
	mustQuery(t, s, "CREATE TABLE default.t (x UInt8) ENGINE = MergeTree ORDER BY x")
	mustQuery(t, s, "INSERT INTO default.t (x) VALUES (7)")
	// Lowering the time limit is allowed where the profile has
	// constraints (current releases); 18.16 refuses every change.
	lower := !s.ReaderConstraints()
	tests := []struct {
		sql     string
		wantErr bool
	}{
		{"SELECT x FROM default.t", false},
		{"SELECT x FROM default.t SETTINGS max_execution_time = 10", lower},
		{"SELECT x FROM default.t SETTINGS max_execution_time = 0", true},
		{"SELECT x FROM default.t SETTINGS readonly = 0", true},
		{"SELECT * FROM remote('127.0.0.1', system.one)", true},
		{"INSERT INTO default.t (x) VALUES (8)", true},
		{"CREATE TABLE default.u (x UInt8) ENGINE = Memory", true},
		{"DROP TABLE default.t", true},
	}
	for _, tt := range tests {
		out, err := query(t, s, chlocal.ReaderUser, tt.sql)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s as %s: got (%q, %v), want error %v", tt.sql, chlocal.ReaderUser, out, err, tt.wantErr)
		}
	}
	if got := mustQuery(t, s, "SELECT count() FROM default.t"); got != "1" {
		t.Errorf("rows after reader attempts = %s, want 1", got)
	}
	// The reader runs with exactly the read-only profile.
	for _, set := range readonly.Profile() {
		got, err := query(t, s, chlocal.ReaderUser, "SELECT value FROM system.settings WHERE name = '"+set.Name+"'")
		if err != nil || got != set.Value {
			t.Errorf("reader setting %s = (%q, %v), want %s", set.Name, got, err, set.Value)
		}
	}
}

func TestStopRestartKeepsDataAndPorts(t *testing.T) {
	s := start(t)
	mustQuery(t, s, "CREATE TABLE default.kept (x UInt32) ENGINE = MergeTree ORDER BY x")
	mustQuery(t, s, "INSERT INTO default.kept (x) VALUES (1), (2), (3)")
	addr, httpAddr := s.Addr(), s.HTTPAddr()

	ctx := context.Background()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s.Running() {
		t.Fatal("Running() after Stop")
	}
	if _, err := query(t, s, "default", "SELECT 1"); err == nil {
		t.Fatal("query succeeded while stopped")
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if s.Addr() != addr || s.HTTPAddr() != httpAddr {
		t.Errorf("addresses changed: %s,%s -> %s,%s", addr, httpAddr, s.Addr(), s.HTTPAddr())
	}
	if got := mustQuery(t, s, "SELECT sum(x) FROM default.kept"); got != "6" {
		t.Errorf("sum after restart = %s, want 6", got)
	}
}

func TestSeveralServersAtOnce(t *testing.T) {
	const n = 3
	servers := make([]*chlocal.Server, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = chlocal.Start(context.Background(), chlocal.Options{})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
		t.Cleanup(func() { servers[i].Close() })
	}
	seen := map[string]bool{}
	for i, s := range servers {
		if seen[s.Addr()] || seen[s.HTTPAddr()] {
			t.Errorf("server %d reuses a port: %s %s", i, s.Addr(), s.HTTPAddr())
		}
		seen[s.Addr()], seen[s.HTTPAddr()] = true, true
		mustQuery(t, s, "CREATE TABLE default.own (x UInt8) ENGINE = Memory")
	}
}

func TestMissingBinary(t *testing.T) {
	for _, bin := range []string{"/nonexistent/clickhouse-server", "clickhouse-server-not-on-path"} {
		_, err := chlocal.Start(context.Background(), chlocal.Options{Binary: bin})
		if !errors.Is(err, chlocal.ErrNotInstalled) {
			t.Errorf("Start(Binary: %s) = %v, want ErrNotInstalled", bin, err)
		}
		if err != nil && !strings.Contains(err.Error(), "apt-get install -y clickhouse-server") {
			t.Errorf("error does not say how to fix it: %v", err)
		}
	}
}

// BenchmarkStartClose measures how long a test waits for a private server:
// start until /ping answers, then Close.
func BenchmarkStartClose(b *testing.B) {
	for b.Loop() {
		s, err := chlocal.Start(context.Background(), chlocal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStopRestart measures an outage round trip (graceful stop,
// restart on the same data), as outage tests do.
func BenchmarkStopRestart(b *testing.B) {
	s, err := chlocal.Start(context.Background(), chlocal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for b.Loop() {
		if err := s.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Restart(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRemovesStaleDirs: a directory left by a process that died without
// Close is removed by the next Start; one whose owner lives is kept.
func TestRemovesStaleDirs(t *testing.T) {
	parent := t.TempDir()
	mk := func(pid string) string {
		d, err := os.MkdirTemp(parent, "impact-clickhouse-")
		if err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			if err := os.WriteFile(filepath.Join(d, "owner.pid"), []byte(pid), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	// A pid that cannot exist (above the kernel's pid_max limit of 2^22).
	dead := mk("99999999")
	alive := mk(strconv.Itoa(os.Getpid()))
	unknown := mk("")
	s, err := chlocal.Start(context.Background(), chlocal.Options{Dir: parent})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		dir  string
		keep bool
	}{{dead, false}, {alive, true}, {unknown, true}, {s.Dir(), true}} {
		_, err := os.Stat(tt.dir)
		if kept := err == nil; kept != tt.keep {
			t.Errorf("%s kept=%v, want %v", filepath.Base(tt.dir), kept, tt.keep)
		}
	}
}

func TestZooKeeperMissing(t *testing.T) {
	for _, opts := range []chlocal.ZooKeeperOptions{
		{Classpath: "/nonexistent/zookeeper.jar"},
		{Java: "java-not-installed-here"},
	} {
		_, err := chlocal.StartZooKeeper(context.Background(), opts)
		if !errors.Is(err, chlocal.ErrZooKeeperNotInstalled) {
			t.Errorf("StartZooKeeper(%+v) = %v, want ErrZooKeeperNotInstalled", opts, err)
		}
	}
}

// TestCluster: servers of a local cluster see each other and ZooKeeper
// (the migrations package runs the real cluster DDL on one).
func TestCluster(t *testing.T) {
	cl, err := chlocal.StartCluster(context.Background(), chlocal.ClusterOptions{Shards: 2, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if len(cl.All()) != 2 {
		t.Fatalf("%d servers, want 2", len(cl.All()))
	}
	for _, s := range cl.All() {
		if got := mustQuery(t, s, "SELECT count() FROM system.clusters WHERE cluster = 'impact_cluster'"); got != "2" {
			t.Errorf("%s sees %s cluster hosts, want 2", s.Addr(), got)
		}
		if got := mustQuery(t, s, "SELECT count() > 0 FROM system.zookeeper WHERE path = '/'"); got != "1" {
			t.Errorf("%s: ZooKeeper not reachable (%s)", s.Addr(), got)
		}
	}
	mustQuery(t, cl.Servers[0][0], "CREATE TABLE default.c ON CLUSTER impact_cluster (x UInt8) ENGINE = Memory")
	if got := mustQuery(t, cl.Servers[1][0], "SELECT count() FROM system.tables WHERE database = 'default' AND name = 'c'"); got != "1" {
		t.Error("ON CLUSTER DDL did not reach the other shard")
	}
	dirs := []string{cl.ZooKeeper.Dir()}
	for _, s := range cl.All() {
		dirs = append(dirs, s.Dir())
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left behind", d)
		}
	}
}
