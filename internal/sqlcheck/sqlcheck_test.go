package sqlcheck_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/sqlcheck"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		stmts     []string
		parseOnly bool
		wantFail  []int // indexes of failing statements
		wantMsg   string
	}{
		{
			name: "ddl and queries run for real",
			stmts: []string{
				"CREATE TABLE IF NOT EXISTS t (id String, v UInt32, at DateTime) ENGINE = ReplacingMergeTree(at) ORDER BY id",
				"INSERT INTO t (id, v, at) VALUES ('a', 1, '2026-01-01 00:00:00'), ('a', 2, '2026-01-02 00:00:00')",
				"SELECT id, argMax(v, at) FROM t GROUP BY id",
				"SELECT count() FROM t FINAL",
				"SELECT toMonday(toDate('2026-11-28'))",
			},
		},
		{
			name:     "syntax error is reported with its index",
			stmts:    []string{"SELECT 1", "SELEC 2", "SELECT 3"},
			wantFail: []int{1},
			wantMsg:  "Syntax error",
		},
		{
			name:     "execution error: unknown table",
			stmts:    []string{"SELECT count() FROM no_such_table"},
			wantFail: []int{0},
			wantMsg:  "no_such_table",
		},
		{
			name:     "execution error: unknown function",
			stmts:    []string{"SELECT no_such_function(1)"},
			wantFail: []int{0},
			wantMsg:  "no_such_function",
		},
		{
			name: "parse only accepts cluster DDL chdb cannot run",
			stmts: []string{
				"CREATE TABLE IF NOT EXISTS x_local ON CLUSTER c (a String) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/x_local', '{replica}') ORDER BY a",
				"CREATE TABLE IF NOT EXISTS x ON CLUSTER c AS x_local ENGINE = Distributed(c, impact, x_local, cityHash64(a))",
				"SELECT count() FROM no_such_table",
			},
			parseOnly: true,
		},
		{
			name:      "parse only still rejects bad syntax",
			stmts:     []string{"CREATE TABLE x ON CLUSTER (a String)"},
			parseOnly: true,
			wantFail:  []int{0},
			wantMsg:   "Syntax error",
		},
		{
			name:  "the database exists and is current",
			stmts: []string{"CREATE TABLE IF NOT EXISTS impact.d (x UInt8) ENGINE = MergeTree ORDER BY x", "INSERT INTO d (x) VALUES (1)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := sqlcheck.Check(context.Background(), tt.stmts, sqlcheck.Options{ParseOnly: tt.parseOnly})
			var failed []int
			for _, e := range unwrapAll(err) {
				var se *sqlcheck.Error
				if !errors.As(e, &se) {
					t.Fatalf("Check: %v", err)
				}
				failed = append(failed, se.Index)
				if se.Statement != tt.stmts[se.Index] {
					t.Errorf("Error.Statement = %q, want %q", se.Statement, tt.stmts[se.Index])
				}
			}
			if !equal(failed, tt.wantFail) {
				t.Fatalf("failed statements %v, want %v (err: %v)", failed, tt.wantFail, err)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			if err == nil && r.Version == "" {
				t.Error("no ClickHouse version reported")
			}
		})
	}
}

func TestMissingChDBIsAnError(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	// python3 -S skips site-packages, where pip put chdb.
	wrapper := filepath.Join(t.TempDir(), "python-without-site")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+py+" -S \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = sqlcheck.Check(context.Background(), []string{"SELECT 1"}, sqlcheck.Options{Python: wrapper})
	if !errors.Is(err, sqlcheck.ErrNoChDB) {
		t.Fatalf("Check without chdb = %v, want ErrNoChDB", err)
	}
	if !strings.Contains(err.Error(), "ensure-chdb.sh") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
}

func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
