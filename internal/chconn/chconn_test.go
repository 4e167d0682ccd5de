package chconn_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, cfg config.ClickHouse) driver.Conn {
	t.Helper()
	conn, err := chconn.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     config.ClickHouse
		wantErr string
	}{
		{"no address", config.ClickHouse{}, "IMPACT_CLICKHOUSE_ADDR"},
		{"missing CA file", config.ClickHouse{Addr: "127.0.0.1:9000", TLS: true, TLSCAFile: filepath.Join(dir, "missing.pem")}, "read ClickHouse TLS CA"},
		{"CA file without certificates", config.ClickHouse{Addr: "127.0.0.1:9000", TLSCAFile: notPEM}, "no PEM certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := chconn.Options(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Options error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
	if _, err := chconn.Options(config.ClickHouse{}); !errors.Is(err, chconn.ErrNoAddr) {
		t.Errorf("empty address: %v, want ErrNoAddr", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	opts, err := chconn.Options(config.ClickHouse{Addr: "a:1,b:2", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Protocol != clickhouse.Native || opts.Compression == nil || opts.Compression.Method != clickhouse.CompressionLZ4 {
		t.Errorf("want native protocol with LZ4, got %v %+v", opts.Protocol, opts.Compression)
	}
	if len(opts.Addr) != 2 || opts.Auth.Database != "impact" || opts.Auth.Username != "default" {
		t.Errorf("addr/auth defaults: %v %+v", opts.Addr, opts.Auth)
	}
	if opts.TLS == nil || opts.DialTimeout != chconn.DefaultDialTimeout || opts.MaxOpenConns != chconn.DefaultMaxOpenConns {
		t.Errorf("TLS %v, dial timeout %s, max open conns %d", opts.TLS, opts.DialTimeout, opts.MaxOpenConns)
	}
	if len(opts.Settings) != 0 {
		t.Errorf("connection-level settings %v: 18.16 rejects non-integer ones", opts.Settings)
	}
}

func TestOpenFailsClearly(t *testing.T) {
	srv := testenv.ClickHouseServer(t)
	tests := []struct {
		name    string
		cfg     config.ClickHouse
		wantErr string
	}{
		{"nothing listening", config.ClickHouse{Addr: "127.0.0.1:1", DialTimeout: time.Second}, "127.0.0.1:1"},
		{"missing database", srv.Config("no_such_db"), "no_such_db"},
		{"unknown user", config.ClickHouse{Addr: srv.Addr(), User: "nobody", Database: "default"}, "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := chconn.Open(context.Background(), tt.cfg)
			if err == nil {
				conn.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestEnsureAndDropDatabase(t *testing.T) {
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	cfg := srv.Config("ensure_me")
	for i := range 2 { // idempotent
		if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
			t.Fatalf("EnsureDatabase #%d: %v", i+1, err)
		}
	}
	if ok, err := chconn.DatabaseExists(ctx, cfg); err != nil || !ok {
		t.Fatalf("DatabaseExists after EnsureDatabase = %v, %v", ok, err)
	}
	open(t, cfg) // connects to the new database
	if err := chconn.DropDatabase(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if ok, err := chconn.DatabaseExists(ctx, cfg); err != nil || ok {
		t.Fatalf("DatabaseExists after DropDatabase = %v, %v", ok, err)
	}
	for _, bad := range []string{"x; DROP DATABASE default", "1abc", "a-b"} {
		if err := chconn.EnsureDatabase(ctx, srv.Config(bad)); err == nil {
			t.Errorf("EnsureDatabase(%q) accepted an unsafe name", bad)
		}
	}
}

// TestStopMerges: after StopMerges a table's parts stay unmerged (OPTIMIZE
// is refused), and another database's tables still merge.
func TestStopMerges(t *testing.T) {
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	stopped, other := srv.Config("stop_merges_a"), srv.Config("stop_merges_b")
	for _, cfg := range []config.ClickHouse{stopped, other} {
		if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = chconn.DropDatabase(context.Background(), cfg) })
		conn := open(t, cfg)
		for _, stmt := range []string{
			"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a",
			"INSERT INTO t SELECT 1",
			"INSERT INTO t SELECT 2",
		} {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	if err := chconn.StopMerges(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	if err := open(t, stopped).Exec(ctx, "OPTIMIZE TABLE t"); err == nil {
		t.Error("OPTIMIZE ran after StopMerges")
	}
	if err := open(t, other).Exec(ctx, "OPTIMIZE TABLE t"); err != nil {
		t.Errorf("another database's table does not merge: %v", err)
	}
	for cfg, want := range map[config.ClickHouse]uint64{stopped: 2, other: 1} {
		var parts uint64
		if err := open(t, cfg).QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 't' AND active", cfg.Database).Scan(&parts); err != nil {
			t.Fatal(err)
		}
		if parts != want {
			t.Errorf("%s.t has %d active parts, want %d", cfg.Database, parts, want)
		}
	}
}

// TestRoundTrip inserts every column type the typed tables use with a
// column-naming batch (the only INSERT form that works on 18.16) and reads
// the values back.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	if err := conn.Exec(ctx, `CREATE TABLE rt (
    s String, d DateTime, ns Nullable(String), nf Nullable(Float64), b UInt8,
    i32 Int32, i64 Int64, arr Array(String), nd Nullable(DateTime)
) ENGINE = ReplacingMergeTree ORDER BY s`); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 3, 2, 10, 4, 5, 0, time.UTC)
	str, f := "x", 0.25
	type row struct {
		s   string
		d   time.Time
		ns  *string
		nf  *float64
		b   uint8
		i32 int32
		i64 int64
		arr []string
		nd  *time.Time
	}
	rows := []row{
		{"all set", when, &str, &f, 1, -7, 1 << 40, []string{"a", "b"}, &when},
		{"nulls", when, nil, nil, 0, 0, 0, []string{}, nil},
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO rt (s, d, ns, nf, b, i32, i64, arr, nd)")
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	for _, r := range rows {
		if err := batch.Append(r.s, r.d, r.ns, r.nf, r.b, r.i32, r.i64, r.arr, r.nd); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	for _, want := range rows {
		var got row
		if err := conn.QueryRow(ctx, "SELECT s, d, ns, nf, b, i32, i64, arr, nd FROM rt FINAL WHERE s = ?", want.s).
			Scan(&got.s, &got.d, &got.ns, &got.nf, &got.b, &got.i32, &got.i64, &got.arr, &got.nd); err != nil {
			t.Fatalf("%s: %v", want.s, err)
		}
		if !got.d.Equal(want.d) || got.b != want.b || got.i32 != want.i32 || got.i64 != want.i64 ||
			strings.Join(got.arr, ",") != strings.Join(want.arr, ",") ||
			(got.ns == nil) != (want.ns == nil) || (got.nf == nil) != (want.nf == nil) || (got.nd == nil) != (want.nd == nil) {
			t.Errorf("%s: got %+v, want %+v", want.s, got, want)
		}
		if want.nd != nil && (got.nd == nil || !got.nd.Equal(*want.nd)) {
			t.Errorf("%s: nullable DateTime %v, want %v", want.s, got.nd, want.nd)
		}
	}
	// database/sql works too.
	db, err := chconn.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n uint64
	if err := db.QueryRowContext(ctx, "SELECT count() FROM rt").Scan(&n); err != nil || n != 2 {
		t.Errorf("database/sql count = %d, %v", n, err)
	}
}

// TestOldServerQuirks pins down how clickhouse-go v2.51 behaves on the
// ClickHouse 18.16 that tests use, so the house rules stay grounded. On a
// current server the same statements work.
func TestOldServerQuirks(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	v, err := conn.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	old := v.Version.Major < 19
	t.Logf("server %s, 18.16 quirks expected: %v", v, old)
	if err := conn.Exec(ctx, "CREATE TABLE q (a String, b UInt8) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}

	t.Run("INSERT VALUES through Exec hangs", func(t *testing.T) {
		// The old server waits for data blocks the driver never sends.
		c := open(t, cfg)
		short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		err := c.Exec(short, "INSERT INTO q (a, b) VALUES ('v', 1)")
		if old && err == nil {
			t.Error("INSERT ... VALUES through Exec worked on 18.16; relax the house rule")
		}
		if !old && err != nil {
			t.Errorf("INSERT ... VALUES on a current server: %v", err)
		}
	})
	t.Run("INSERT SELECT through Exec works", func(t *testing.T) {
		if err := conn.Exec(ctx, "INSERT INTO q (a, b) SELECT ?, ?", "s", 2); err != nil {
			t.Error(err)
		}
	})
	t.Run("batch without column names", func(t *testing.T) {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO q")
		if err == nil {
			defer batch.Close()
			err = batch.Append("n", uint8(3))
		}
		if old && err == nil {
			t.Error("batch without column names worked on 18.16; relax the house rule")
		}
		if !old && err != nil {
			t.Errorf("batch without column names on a current server: %v", err)
		}
	})
	t.Run("integer query setting", func(t *testing.T) {
		var n uint64
		qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_block_size": 1000}))
		if err := conn.QueryRow(qctx, "SELECT count() FROM q").Scan(&n); err != nil {
			t.Error(err)
		}
	})
	t.Run("string query setting", func(t *testing.T) {
		var n uint64
		qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"join_use_nulls": "1"}))
		err := conn.QueryRow(qctx, "SELECT count() FROM q").Scan(&n)
		if old && (err == nil || !strings.Contains(err.Error(), "unsupported data type")) {
			t.Errorf("string setting on 18.16: %v, want unsupported data type", err)
		}
	})
}

// TestReaderUser: the local server's read-only user can query with a
// deadline (clickhouse-go then sends max_execution_time) but not write.
func TestReaderUser(t *testing.T) {
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	admin := open(t, srv.Config("default"))
	if err := admin.Exec(ctx, "CREATE TABLE r (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	reader := open(t, srv.ReaderConfig("default"))
	if srv.ReaderConfig("").User != chlocal.ReaderUser {
		t.Fatalf("reader user %q", srv.ReaderConfig("").User)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	if err := reader.QueryRow(dctx, "SELECT count() FROM r").Scan(&n); err != nil {
		t.Errorf("read with a deadline: %v", err)
	}
	for _, sql := range []string{"INSERT INTO r (x) SELECT 1", "CREATE TABLE w (x UInt8) ENGINE = Memory", "DROP TABLE r"} {
		if err := reader.Exec(ctx, sql); err == nil {
			t.Errorf("reader could run %s", sql)
		}
	}
}
