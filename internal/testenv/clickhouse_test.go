package testenv_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestClickHouse: each call gets its own migrated database, which is
// dropped when the test ends.
func TestClickHouse(t *testing.T) {
	ctx := context.Background()
	all, err := migrations.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var first = t.Name()
	t.Run("a", func(t *testing.T) {
		a := testenv.ClickHouse(t)
		b := testenv.ClickHouse(t)
		if a.Database == b.Database || a.Addr != b.Addr {
			t.Fatalf("two calls: %s@%s and %s@%s, want distinct databases on one server", a.Database, a.Addr, b.Database, b.Addr)
		}
		names = append(names, a.Database, b.Database)
		conn, err := chconn.Open(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if int(n) != len(all) {
			t.Errorf("%d migrations recorded, want %d", n, len(all))
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM events_raw").Scan(&n); err != nil {
			t.Errorf("events_raw: %v", err)
		}
		if !strings.HasPrefix(a.Database, "test_") || !strings.Contains(a.Database, strings.ToLower(strings.ReplaceAll(first, "/", "_"))) {
			t.Errorf("database name %q does not say which test it belongs to", a.Database)
		}
	})
	// After the subtest, its databases are gone.
	cfg := testenv.ClickHouseEmpty(t)
	for _, name := range names {
		c := cfg
		c.Database = name
		if ok, err := chconn.DatabaseExists(ctx, c); err != nil || ok {
			t.Errorf("database %s after its test ended: exists=%v err=%v", name, ok, err)
		}
	}
}

// TestClickHouseNeverSkips runs a test in a child process against a
// ClickHouse address where nothing listens: it must fail, not skip.
func TestClickHouseNeverSkips(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		testenv.ClickHouse(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClickHouseNeverSkips$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "IMPACT_CLICKHOUSE_ADDR=127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL") || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("child with an unreachable ClickHouse: err=%v, output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "127.0.0.1:1") {
		t.Errorf("failure does not name the address:\n%s", out)
	}
}

// TestClickHouseHonoursAddr runs a test in a child process with
// IMPACT_CLICKHOUSE_ADDR set to a dedicated server: the database must be
// created there.
func TestClickHouseHonoursAddr(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		cfg := testenv.ClickHouse(t)
		if cfg.Addr != os.Getenv("IMPACT_CLICKHOUSE_ADDR") {
			t.Fatalf("addr %s, want %s", cfg.Addr, os.Getenv("IMPACT_CLICKHOUSE_ADDR"))
		}
		conn, err := chconn.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Leave a mark the parent can look for (the database itself is
		// dropped at the end of the child's test).
		if err := conn.Exec(context.Background(), "CREATE TABLE IF NOT EXISTS default.child_was_here (x UInt8) ENGINE = Memory"); err != nil {
			t.Fatal(err)
		}
		return
	}
	srv := testenv.ClickHouseServer(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestClickHouseHonoursAddr$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "IMPACT_CLICKHOUSE_ADDR="+srv.Addr())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	conn, err := chconn.Open(context.Background(), srv.Config("default"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.tables WHERE database = 'default' AND name = 'child_was_here'").Scan(&n); err != nil || n != 1 {
		t.Errorf("child did not use IMPACT_CLICKHOUSE_ADDR (n=%d, err=%v)", n, err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.databases WHERE name LIKE 'test_%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("child left %d test databases behind (err=%v)", n, err)
	}
}

// TestClickHouseServer: a dedicated server, separate from the shared one.
func TestClickHouseServer(t *testing.T) {
	shared := testenv.ClickHouseEmpty(t)
	srv := testenv.ClickHouseServer(t)
	if srv.Addr() == shared.Addr {
		t.Fatal("dedicated server is the shared one")
	}
	if err := srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkClickHouse measures what a test pays for its own migrated
// database on the shared server (create and migrate; the drops run at
// the end of the benchmark).
func BenchmarkClickHouse(b *testing.B) {
	testenv.ClickHouseEmpty(b) // start the shared server outside the timing
	for b.Loop() {
		testenv.ClickHouse(b)
	}
}
