package migrations

import (
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/sqlcheck"
)

// bindSample inlines args for the ? placeholders of stmt, as clickhouse-go
// does client-side, for running the statement where no driver binds.
func bindSample(t *testing.T, stmt string, args ...string) string {
	t.Helper()
	if n := strings.Count(stmt, "?"); n != len(args) {
		t.Fatalf("%d placeholders, %d args: %s", n, len(args), stmt)
	}
	for _, a := range args {
		stmt = strings.Replace(stmt, "?", a, 1)
	}
	return stmt
}

// TestRunnerStatementsChDB runs the runner's own bookkeeping queries on a
// current ClickHouse (chdb), in the order a migration and a lock cycle send
// them, after the bookkeeping DDL; ClickHouse 18.16 runs them in every
// other test of this package.
func TestRunnerStatementsChDB(t *testing.T) {
	stmts := bootstrapStatements(Options{})
	stmts = append(stmts,
		sqlCurrentDatabase,
		sqlHasMigrationsTable,
		sqlReadApplied,
		bindSample(t, sqlColumnState, "''", "''", "'schema_migrations'", "''", "''", "'schema_migrations'", "'name'"),
		bindSample(t, sqlColumnState, "'default'", "'default'", "'schema_migrations'", "'default'", "'default'", "'schema_migrations'", "'name'"),
		bindSample(t, sqlClusterHosts, "'default'"),
		bindSample(t, sqlColumnsOf, "currentDatabase()", "'schema_migrations'"),
		bindSample(t, sqlTakeLock, "'migrate/host/1/ab'"),
		bindSample(t, sqlLockHolder, "60", "'migrate/'"),
		bindSample(t, sqlRenewLock, "'host/1/ab'"),
		bindSample(t, sqlRecordApplied, "1", "'0001_events_raw'", "'abc'"),
		sqlReadApplied,
		bindSample(t, sqlReleaseLock, "'host/1/ab'"),
		bindSample(t, sqlLockHolder, "60", "'migrate/'"),
	)
	sqlcheck.LintT(t, stmts)
	r := sqlcheck.RunChDB(t, stmts)
	t.Logf("runner statements ran on ClickHouse %s (chdb)", r.Version)
}

// TestWithoutComments: the DDL Apply runs on a cluster of servers that
// cannot replicate column comments keeps everything but the comments.
func TestWithoutComments(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"CREATE TABLE IF NOT EXISTS t (a String COMMENT 'it''s a \\'b\\'', b UInt8 COMMENT 'x') ENGINE = MergeTree ORDER BY a",
			"CREATE TABLE IF NOT EXISTS t (a String, b UInt8) ENGINE = MergeTree ORDER BY a"},
		{"ALTER TABLE t ADD COLUMN c DateTime DEFAULT now() COMMENT 'when'", "ALTER TABLE t ADD COLUMN c DateTime DEFAULT now()"},
		{"ALTER TABLE t COMMENT COLUMN c 'when'", ""},
		{"alter table t\n    comment column c 'when'", ""},
		{"ALTER TABLE t ADD COLUMN comment String", "ALTER TABLE t ADD COLUMN comment String"},
		{"INSERT INTO t (a) VALUES ('COMMENT')", "INSERT INTO t (a) VALUES ('COMMENT')"},
	} {
		if got := withoutComments(tc.in); got != tc.want {
			t.Errorf("withoutComments(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestStripColumnIfExists: the IF [NOT] EXISTS 18.16 cannot parse is
// removed from a single-column ADD or DROP, and nothing else is touched.
func TestStripColumnIfExists(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS c UInt8", "ALTER TABLE t ADD COLUMN c UInt8"},
		{"alter table db.t on cluster x drop column if exists c", "alter table db.t on cluster x drop column c"},
		{"-- why\nALTER TABLE t DROP COLUMN IF EXISTS c", "ALTER TABLE t DROP COLUMN c"},
		{"ALTER TABLE t DROP COLUMN c", "ALTER TABLE t DROP COLUMN c"},
		{"ALTER TABLE t ADD COLUMN IF EXISTS c UInt8", "ALTER TABLE t ADD COLUMN IF EXISTS c UInt8"}, // not valid anywhere: left to fail
		{"ALTER TABLE t DROP COLUMN IF NOT EXISTS c", "ALTER TABLE t DROP COLUMN IF NOT EXISTS c"},
		{"ALTER TABLE t MODIFY COLUMN c UInt16", "ALTER TABLE t MODIFY COLUMN c UInt16"},
	} {
		if got := stripColumnIfExists(tc.in); got != tc.want {
			t.Errorf("stripColumnIfExists(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want colChange
		ok   bool
	}{
		{"ALTER TABLE db.t ADD COLUMN c UInt8", colChange{db: "db", table: "t", column: "c", add: true}, true},
		{"ALTER TABLE t ON CLUSTER x DROP COLUMN IF EXISTS c", colChange{table: "t", column: "c"}, true},
		{"ALTER TABLE t DROP COLUMN c;", colChange{table: "t", column: "c"}, true},
		{"ALTER TABLE t DROP COLUMN c, DROP COLUMN d", colChange{table: "t", column: "c"}, true},
		{"ALTER TABLE t DROP COLUMN n.x", colChange{}, false}, // a nested column: not in system.columns by that name
		{"ALTER TABLE t MODIFY COLUMN c UInt16", colChange{}, false},
	} {
		got, ok := columnChange(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("columnChange(%q) = %+v, %v, want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
