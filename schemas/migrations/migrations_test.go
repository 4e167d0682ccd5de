package migrations_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func testdata(name string) migrations.Options {
	return migrations.Options{FS: os.DirFS(filepath.Join("testdata", name))}
}

func open(t *testing.T, cfg config.ClickHouse) driver.Conn {
	t.Helper()
	conn, err := chconn.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func count(t *testing.T, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "SELECT 1;\n", []string{"SELECT 1"}},
		{"no trailing semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"two with comments", "-- head\nSELECT 1;\n\n-- between\nSELECT 2;\n-- tail\n", []string{"-- head\nSELECT 1", "-- between\nSELECT 2"}},
		{"semicolon inside a line does not split", "SELECT ';' AS x, 1;\n", []string{"SELECT ';' AS x, 1"}},
		{"semicolon in a comment line does not split", "-- a; b;\nSELECT 1;\n", []string{"-- a; b;\nSELECT 1"}},
		{"only comments", "-- nothing\n\n", nil},
		{"trailing spaces and CRLF", "SELECT 1;  \r\nSELECT 2;\r\n", []string{"SELECT 1", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := migrations.Split(tt.in)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name      string
		fs        fstest.MapFS
		wantNames []string
		wantErr   string
	}{
		{"ordered by version", fstest.MapFS{
			"0002_b.sql": {Data: []byte("SELECT 2;\n")},
			"0001_a.sql": {Data: []byte("SELECT 1;\n")},
		}, []string{"0001_a", "0002_b"}, ""},
		{"bad name", fstest.MapFS{"1_x.sql": {Data: []byte("SELECT 1;\n")}}, nil, "NNNN_lower_case_name.sql"},
		{"duplicate version", fstest.MapFS{
			"0001_a.sql": {Data: []byte("SELECT 1;\n")},
			"0001_b.sql": {Data: []byte("SELECT 1;\n")},
		}, nil, "share version 1"},
		{"empty file", fstest.MapFS{"0001_a.sql": {Data: []byte("-- nothing\n")}}, nil, "no statements"},
		{"create without IF NOT EXISTS", fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE t (x UInt8) ENGINE = Memory;\n")}}, nil, "IF NOT EXISTS"},
		{"drop without IF EXISTS", fstest.MapFS{"0001_a.sql": {Data: []byte("DROP TABLE t;\n")}}, nil, "IF EXISTS"},
		{"insert values", fstest.MapFS{"0001_a.sql": {Data: []byte("INSERT INTO t (x) VALUES (1);\n")}}, nil, "INSERT ... VALUES"},
		{"insert select is fine", fstest.MapFS{"0001_a.sql": {Data: []byte("INSERT INTO t (x) SELECT 1;\n")}}, []string{"0001_a"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := migrations.Load(tt.fs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
				if len(m.Checksum) != 64 {
					t.Errorf("%s checksum %q is not hex SHA-256", m.Name, m.Checksum)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.wantNames, ",") {
				t.Errorf("names %v, want %v", names, tt.wantNames)
			}
		})
	}
}

// TestApplyTwice: the first run applies everything, the second nothing.
func TestApplyTwice(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	opts := testdata("basic")
	opts.Database = cfg.Database

	r, err := migrations.Apply(ctx, conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Applied) != 2 || r.Already != 0 {
		t.Fatalf("first run: %s", r)
	}
	if got := r.String(); got != "applied 2 migrations: 0001_events, 0002_alter" {
		t.Errorf("first run says %q", got)
	}
	r, err = migrations.Apply(ctx, conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Applied) != 0 || r.Already != 2 || len(r.Statements) != 0 {
		t.Fatalf("second run: %+v", r)
	}
	if got := r.String(); got != "nothing to do (2 migrations already applied)" {
		t.Errorf("second run says %q", got)
	}
	for _, tbl := range []string{"events", "notes", "latest_events", "schema_migrations", "schema_migrations_lock"} {
		if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", tbl); n != 1 {
			t.Errorf("table %s: %d", tbl, n)
		}
	}
	if n := count(t, conn, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'subject'"); n != 1 {
		t.Error("ALTER of 0002 not applied")
	}
	if n := count(t, conn, "SELECT count() FROM notes"); n != 1 {
		t.Errorf("seed row inserted %d times, want 1", n)
	}
	if n := count(t, conn, "SELECT count() FROM schema_migrations"); n != 2 {
		t.Errorf("schema_migrations has %d rows, want 2", n)
	}
}

// TestApplyDropColumnOfMissingTable: a DROP COLUMN whose table is not
// there is a mistake (a misspelt or another database's table), not a
// column already dropped: Apply fails and records nothing.
func TestApplyDropColumnOfMissingTable(t *testing.T) {
	for _, stmt := range []string{
		"ALTER TABLE evnts DROP COLUMN IF EXISTS legacy;",
		"ALTER TABLE otherdb.events DROP COLUMN legacy;",
	} {
		t.Run(stmt, func(t *testing.T) {
			ctx := context.Background()
			cfg := testenv.ClickHouseEmpty(t)
			conn := open(t, cfg)
			opts := migrations.Options{Database: cfg.Database, FS: fstest.MapFS{
				"0001_events.sql": {Data: readFile(t, "testdata/dropcolumn/0001_events.sql")},
				"0002_drop.sql":   {Data: []byte(stmt + "\n")},
			}}
			r, err := migrations.Apply(ctx, conn, opts)
			if err == nil {
				t.Fatalf("Apply: no error, %s", r)
			}
			t.Logf("Apply: %v", err)
			if n := count(t, conn, "SELECT count() FROM schema_migrations FINAL WHERE version = 2"); n != 0 {
				t.Errorf("migration 0002 recorded as applied: %v", err)
			}
		})
	}
}

// TestApplyColumnChangeIdempotent: a runner that died after an ALTER TABLE
// ... ADD COLUMN or DROP COLUMN but before recording its migration leaves
// the change behind; the next run must skip the ADD (the column is there)
// or the DROP (it is gone) rather than fail on it for ever, on 18.16 (which
// has neither ADD COLUMN IF NOT EXISTS nor DROP COLUMN IF EXISTS) as on
// current releases.
func TestApplyColumnChangeIdempotent(t *testing.T) {
	for _, tc := range []struct {
		dir, column, stmt string
		want              uint64 // the column's count after the migrations
	}{
		{"addcolumn", "subject", "ADD COLUMN subject String", 1},
		{"dropcolumn", "legacy", "DROP COLUMN legacy", 0},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			ctx := context.Background()
			cfg := testenv.ClickHouseEmpty(t)
			conn := open(t, cfg)
			opts := testdata(tc.dir)
			opts.Database = cfg.Database
			stmts, err := migrations.Statements(opts)
			if err != nil {
				t.Fatal(err)
			}
			if last := stmts[len(stmts)-1]; strings.Contains(last, "EXISTS") || !strings.Contains(last, tc.stmt) {
				t.Errorf("runner statement %q: want %s without IF [NOT] EXISTS (18.16 cannot parse it)", last, tc.stmt)
			}
			if _, err := migrations.Apply(ctx, conn, opts); err != nil {
				t.Fatal(err)
			}
			// Forget that 0002 was applied, as if the runner had died
			// before recording it.
			if err := conn.Exec(ctx, "TRUNCATE TABLE schema_migrations"); err != nil {
				t.Fatal(err)
			}
			r, err := migrations.Apply(ctx, conn, opts)
			if err != nil {
				t.Fatalf("re-run after the column change: %v", err)
			}
			if len(r.Applied) != 2 {
				t.Errorf("re-run: %s", r)
			}
			if n := count(t, conn, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = ?", tc.column); n != tc.want {
				t.Errorf("column %s: %d, want %d", tc.column, n, tc.want)
			}
		})
	}
}

func TestApplyIncremental(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	if _, err := migrations.Apply(ctx, conn, testdata("basic")); err != nil {
		t.Fatal(err)
	}
	r, err := migrations.Apply(ctx, conn, testdata("more"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Applied) != 1 || r.Applied[0].Name != "0003_more" || r.Already != 2 {
		t.Fatalf("incremental run: %s", r)
	}
	if len(r.Statements) != 2 {
		t.Errorf("statements run: %q", r.Statements)
	}
}

func TestApplyRefusesChangedOrUnknownMigrations(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	if _, err := migrations.Apply(ctx, conn, testdata("more")); err != nil {
		t.Fatal(err)
	}
	changed := fstest.MapFS{}
	for _, name := range []string{"0001_events.sql", "0002_alter.sql", "0003_more.sql"} {
		data, err := os.ReadFile(filepath.Join("testdata", "more", name))
		if err != nil {
			t.Fatal(err)
		}
		changed[name] = &fstest.MapFile{Data: data}
	}
	changed["0002_alter.sql"].Data = append(changed["0002_alter.sql"].Data, []byte("-- edited after it was applied\n")...)

	tests := []struct {
		name    string
		opts    migrations.Options
		wantErr string
	}{
		{"changed file", migrations.Options{FS: changed}, "0002_alter was applied with checksum"},
		{"binary older than database", testdata("basic"), "0003_more is recorded as applied but this binary does not have it"},
		{"wrong database", migrations.Options{FS: changed, Database: "somewhere_else"}, "the connection uses database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dry := range []bool{false, true} {
				tt.opts.DryRun = dry
				_, err := migrations.Apply(ctx, conn, tt.opts)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("dry run %v: error %v, want it to mention %q", dry, err, tt.wantErr)
				}
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	r, err := migrations.Apply(ctx, conn, migrations.Options{FS: testdata("basic").FS, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != "would apply 2 migrations: 0001_events, 0002_alter" {
		t.Errorf("dry run says %q", got)
	}
	if len(r.Statements) != 5 {
		t.Errorf("dry run lists %d statements, want 5", len(r.Statements))
	}
	if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase()"); n != 0 {
		t.Errorf("dry run created %d tables", n)
	}
}

// TestConcurrentApply starts several runners at once on a fresh database,
// each with its own connection as separate processes would have: all
// succeed, each migration is applied exactly once (the non-idempotent
// ALTER and INSERT of 0002 would fail or duplicate otherwise), and the
// record table holds one row per migration.
func TestConcurrentApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testenv.ClickHouseEmpty(t)
	const runners = 4
	results := make([]migrations.Result, runners)
	errs := make([]error, runners)
	var wg sync.WaitGroup
	for i := range runners {
		conn := open(t, cfg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = migrations.Apply(ctx, conn, testdata("basic"))
		}()
	}
	wg.Wait()
	applied := 0
	for i := range runners {
		if errs[i] != nil {
			t.Errorf("runner %d: %v", i, errs[i])
		}
		applied += len(results[i].Applied)
		t.Logf("runner %d: %s", i, results[i])
	}
	if applied != 2 {
		t.Errorf("migrations applied %d times in total, want 2 (once each)", applied)
	}
	conn := open(t, cfg)
	if n := count(t, conn, "SELECT count() FROM schema_migrations FINAL"); n != 2 {
		t.Errorf("schema_migrations FINAL has %d rows, want 2", n)
	}
	if n := count(t, conn, "SELECT count() FROM schema_migrations"); n != 2 {
		t.Errorf("schema_migrations has %d rows before merging, want 2", n)
	}
	if n := count(t, conn, "SELECT count() FROM notes"); n != 1 {
		t.Errorf("seed row inserted %d times, want 1", n)
	}
	if n := count(t, conn, "SELECT count() FROM schema_migrations_lock FINAL WHERE released = 0"); n != 0 {
		t.Errorf("%d lock rows left unreleased", n)
	}
}

// TestEmbeddedMigrations runs the real migrations on ClickHouse 18.16
// (through the runner) and on a current ClickHouse (chdb), and checks that
// the tables the design brief names exist.
func TestEmbeddedMigrations(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseEmpty(t)
	conn := open(t, cfg)
	r, err := migrations.Apply(ctx, conn, migrations.Options{Database: cfg.Database})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Applied) == 0 {
		t.Fatal("no embedded migrations")
	}
	t.Log(r)
	want := []string{"events_raw", "ingest_rejects", "finding_events", "gate_events", "incident_events",
		"policy_exception_events", "review_events", "vendor_assessment_events", "deployment_events",
		"opportunity_events", "ticket_events", "service_events"}
	for _, tbl := range want {
		if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", tbl); n != 1 {
			t.Errorf("table %s missing after migrations", tbl)
		}
	}

	stmts, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sqlcheck.LintT(t, stmts)
	sqlcheck.RunChDB(t, stmts)
}

// TestClusterStatements golden-tests the --cluster DDL and parses it on a
// current ClickHouse (chdb has no ZooKeeper, so it cannot run it).
func TestClusterStatements(t *testing.T) {
	tests := []struct {
		golden string
		opts   migrations.Options
	}{
		{"cluster.golden.sql", migrations.Options{Cluster: "impact_cluster"}},
		{"cluster_basic.golden.sql", migrations.Options{Cluster: "impact_cluster", Database: "analytics", FS: testdata("basic").FS}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			stmts, err := migrations.Statements(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(stmts, ";\n\n") + ";\n"
			path := filepath.Join("testdata", tt.golden)
			golden.Check(t, path, []byte(got))
			onCluster := regexp.MustCompile(`(?i)\bON CLUSTER impact_cluster\b`)
			// ALTERs of the replicated tables run on one replica per shard:
			// ON CLUSTER hangs 18.16's distributed DDL (cluster.go).
			alterLocal := regexp.MustCompile(`(?m)^ALTER TABLE \w+\.\w+_local\b`)
			perShard := 0
			for i, s := range stmts {
				if alterLocal.MatchString(s) {
					perShard++
					if onCluster.MatchString(s) || !strings.HasPrefix(s, "-- per shard, not ON CLUSTER: runs on one replica of each shard") {
						t.Errorf("statement %d: an ALTER of a replicated table must run per shard, not ON CLUSTER, and say so:\n%s", i, s)
					}
					continue
				}
				if strings.HasPrefix(s, "CREATE") || strings.HasPrefix(s, "ALTER") || strings.HasPrefix(s, "DROP") {
					if !onCluster.MatchString(s) {
						t.Errorf("statement %d lacks ON CLUSTER:\n%s", i, s)
					}
				}
				if strings.Contains(s, "ENGINE = ReplacingMergeTree") || strings.Contains(s, "ENGINE = MergeTree") {
					t.Errorf("statement %d has a non-replicated MergeTree:\n%s", i, s)
				}
			}
			if perShard == 0 {
				t.Errorf("no per-shard ALTER of a replicated table: the migrations of %s have ALTERs", tt.golden)
			}
			sqlcheck.LintT(t, stmts)
			sqlcheck.ParseChDB(t, stmts)
		})
	}
}

func TestClusterRewriteRejectsWhatItCannotRewrite(t *testing.T) {
	tests := []struct {
		sql, wantErr string
	}{
		{"RENAME TABLE a TO b;\n", "cannot rewrite"},
		{"CREATE TABLE IF NOT EXISTS a ON CLUSTER x (v UInt8) ENGINE = Memory;\n", "must not say ON CLUSTER"},
		{"CREATE TABLE IF NOT EXISTS a (v UInt8) ENGINE = MergeTree PARTITION BY v;\n", "no ORDER BY"},
		{"CREATE TABLE IF NOT EXISTS db.a (v UInt8) ENGINE = Memory;\n", "without a database"},
		{"ALTER TABLE db.a ADD COLUMN w UInt8;\n", "without a database"},
	}
	for _, tt := range tests {
		fsys := fstest.MapFS{"0001_x.sql": {Data: []byte(tt.sql)}}
		_, err := migrations.Statements(migrations.Options{Cluster: "c", FS: fsys})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: error %v, want it to mention %q", tt.sql, err, tt.wantErr)
		}
		if _, err := migrations.Statements(migrations.Options{FS: fsys}); err != nil && tt.wantErr != "must not say ON CLUSTER" {
			t.Errorf("%q without cluster: %v", tt.sql, err)
		}
	}
}

// TestRefusesNamesThatAreNotIdentifiers: Database and Cluster come from
// flags and the environment and are written into DDL unquoted.
func TestRefusesNamesThatAreNotIdentifiers(t *testing.T) {
	tests := []struct {
		opts    migrations.Options
		wantErr string
	}{
		{migrations.Options{Database: "impact; DROP DATABASE x"}, "database"},
		{migrations.Options{Database: "my-db"}, "database"},
		{migrations.Options{Database: "1db"}, "database"},
		{migrations.Options{Cluster: "c ON CLUSTER d"}, "cluster"},
		{migrations.Options{Cluster: "prod-cluster"}, "cluster"},
		{migrations.Options{Database: "analytics_2", Cluster: "impact_cluster"}, ""},
	}
	for _, tt := range tests {
		_, err := migrations.Statements(tt.opts)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.opts, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: error %v, want one about the %s name", tt.opts, err, tt.wantErr)
		}
	}
	// Apply refuses before touching the server: a nil connection is never used.
	if _, err := migrations.Apply(context.Background(), nil, migrations.Options{Cluster: "a b"}); err == nil || !strings.Contains(err.Error(), "cluster") {
		t.Errorf("Apply with cluster %q: %v", "a b", err)
	}
	// A cluster's replicated ALTERs run on one replica per shard, which
	// Apply reaches through Dial.
	if _, err := migrations.Apply(context.Background(), nil, migrations.Options{Cluster: "c"}); err == nil || !strings.Contains(err.Error(), "Dial is nil") {
		t.Errorf("Apply with a cluster and no Dial: %v", err)
	}
}
