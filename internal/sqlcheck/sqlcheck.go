// Package sqlcheck runs SQL statements through chdb, an embedded current
// ClickHouse engine (PyPI package chdb), to prove that SQL written for
// ClickHouse 18.16 also runs on a current release.
//
// Tests of every package that sends SQL (migrations, transform models,
// dashboard queries) call RunChDB with their statements. chdb is driven by
// a small embedded Python script in a subprocess; it must be importable by
// python3 (scripts/ensure-chdb.sh installs it). Its absence is an error,
// never a skip: CI has to prove the check ran.
package sqlcheck

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

//go:embed chdb_check.py
var script string

// Options configures Check. The zero value executes the statements for
// real, in a database named "impact" of a throw-away chdb session.
type Options struct {
	// Database is created and made current before the statements run.
	// Default "impact".
	Database string

	// ParseOnly only parses each statement (EXPLAIN AST) instead of
	// running it: for DDL that needs what chdb lacks, such as ON CLUSTER
	// and Replicated engines (no ZooKeeper), or queries on tables that do
	// not exist there.
	ParseOnly bool

	// Python is the interpreter; default $IMPACT_PYTHON, else "python3".
	Python string
}

// Error is the failure of one statement.
type Error struct {
	Index     int    // position in the statements passed to Check
	Statement string // the statement
	Message   string // chdb's error message
}

func (e *Error) Error() string {
	return fmt.Sprintf("statement %d fails on current ClickHouse (chdb): %s\n--- statement ---\n%s", e.Index, e.Message, e.Statement)
}

// ErrNoChDB is returned (wrapped) when python cannot import chdb.
var ErrNoChDB = errors.New("chdb is not importable: run scripts/ensure-chdb.sh (python3 -m pip install chdb==4.4.0)")

// Result is what a successful Check saw.
type Result struct {
	Version string // ClickHouse version inside chdb, e.g. "26.9.2.1"
}

type request struct {
	Database   string   `json:"database"`
	ParseOnly  bool     `json:"parse_only"`
	Statements []string `json:"statements"`
}

type response struct {
	Version string `json:"version"`
	Results []struct {
		Index int    `json:"index"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"results"`
}

// Check runs stmts, in order, in a fresh chdb session. Executed statements
// build on each other (CREATE TABLE then INSERT into it). The error joins
// one *Error per failed statement; with execution, later failures may be
// consequences of the first.
func Check(ctx context.Context, stmts []string, opts Options) (Result, error) {
	in, err := json.Marshal(request{Database: opts.Database, ParseOnly: opts.ParseOnly, Statements: stmts})
	if err != nil {
		return Result{}, fmt.Errorf("encode chdb request: %w", err)
	}
	stdout, stderr, err := runScript(ctx, opts.Python, script, in)
	if err != nil {
		return Result{}, err
	}
	var resp response
	if err := json.Unmarshal(stdout, &resp); err != nil {
		return Result{}, fmt.Errorf("read chdb check output: %w: %s", err, stderr)
	}
	if len(resp.Results) != len(stmts) {
		return Result{}, fmt.Errorf("chdb check answered for %d of %d statements", len(resp.Results), len(stmts))
	}
	var errs []error
	for _, r := range resp.Results {
		if !r.OK {
			errs = append(errs, &Error{Index: r.Index, Statement: stmts[r.Index], Message: r.Error})
		}
	}
	return Result{Version: resp.Version}, errors.Join(errs...)
}

// RunChDB is Check for tests: it executes stmts in chdb and fails t with
// every failing statement. A missing chdb fails the test too.
func RunChDB(t testing.TB, stmts []string) Result {
	t.Helper()
	return run(t, stmts, Options{})
}

// ParseChDB is RunChDB with Options.ParseOnly.
func ParseChDB(t testing.TB, stmts []string) Result {
	t.Helper()
	return run(t, stmts, Options{ParseOnly: true})
}

func run(t testing.TB, stmts []string, opts Options) Result {
	t.Helper()
	if len(stmts) == 0 {
		t.Fatal("sqlcheck: no statements to check")
	}
	r, err := Check(context.Background(), stmts, opts)
	if err != nil {
		t.Fatalf("sqlcheck: %v", err)
	}
	t.Logf("sqlcheck: %d statements ok on ClickHouse %s (chdb)", len(stmts), r.Version)
	return r
}

// runScript runs a Python script with in on its standard input and
// returns its output; exit status 3 means chdb is not importable.
func runScript(ctx context.Context, py, script string, in []byte) (stdout []byte, stderr string, err error) {
	if py == "" {
		py = os.Getenv("IMPACT_PYTHON")
	}
	if py == "" {
		py = "python3"
	}
	cmd := exec.CommandContext(ctx, py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	stderr = strings.TrimSpace(errOut.String())
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 3:
		return nil, stderr, fmt.Errorf("%w: %s", ErrNoChDB, stderr)
	case err != nil:
		return nil, stderr, fmt.Errorf("run chdb with %s: %w: %s", py, err, stderr)
	}
	return out.Bytes(), stderr, nil
}
