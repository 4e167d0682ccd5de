// Package pipelinetest fills a test database with a simulated organisation
// and the analyst tables built from it, for tests that read what the
// pipeline produces (the brief, analyst queries, reports) rather than test
// the pipeline itself.
//
// It takes the fastest honest path in the repository: simulate -> the
// typed tables through transform/bulk (which decodes with schemas.Decode
// exactly as ingest does, minus Kafka, DLQ and offsets) -> a full
// transform as of the simulation's end. Tests of Kafka, ingest or the
// pipeline-health dashboard need the real path instead.
package pipelinetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/bulk"
)

// Loaded is a migrated database holding a simulated organisation.
type Loaded struct {
	Conn   driver.Conn
	Config config.ClickHouse
	Truth  *simulate.Truth
}

// DB returns the database name.
func (l Loaded) DB() string { return l.Config.DB() }

// Load fills a fresh testenv database (see testenv.ClickHouse) with the
// simulation opts describes and the analyst tables. The connection is
// closed when the test ends.
func Load(t testing.TB, opts simulate.Options) Loaded {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.ClickHouse(t)
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	truth, err := Fill(ctx, cfg, conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	return Loaded{Conn: conn, Config: cfg, Truth: truth}
}

// Fill simulates opts into the typed tables of cfg's database (conn is
// connected to it), which must be migrated, and rebuilds every analyst table as of the simulation's end.
// It returns the simulation's truth.
func Fill(ctx context.Context, cfg config.ClickHouse, conn driver.Conn, opts simulate.Options) (*simulate.Truth, error) {
	ins, err := chconn.NewInserter(cfg)
	if err != nil {
		return nil, err
	}
	defer ins.Close()
	l := &bulk.Loader{Inserter: ins}
	truth, err := simulate.Run(ctx, opts, func(r simulate.Record) error { return l.Add(ctx, r.Value) })
	if err != nil {
		return nil, fmt.Errorf("simulate into typed tables: %w", err)
	}
	if err := l.Flush(ctx); err != nil {
		return nil, fmt.Errorf("flush typed tables: %w", err)
	}
	if _, err := transform.Refresh(ctx, conn, transform.Options{AsOf: truth.End, Full: true}); err != nil {
		return nil, fmt.Errorf("transform as of %s: %w", truth.End.Format("2006-01-02"), err)
	}
	return truth, nil
}

// ShowCreateTables returns the DDL of every table of db as the server
// reports it, unqualified, so that chdb (sqlcheck.RunChDB) can create the
// same tables before running queries written against them. Transform's
// scratch tables (*_next) are left out. A view (findings, over transform's
// layer tables) is given as a table of its columns, which CopyTables fills
// with the view's rows: the queries run there read the rows, whatever
// tables the server keeps them in.
func ShowCreateTables(ctx context.Context, conn driver.Conn, db string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ? AND name NOT LIKE '%_next' ORDER BY name", db)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	type table struct{ name, engine string }
	var tables []table
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.name, &t.engine); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables of %s: %w", db, err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	var stmts []string
	for _, t := range tables {
		if t.engine == "View" {
			ddl, err := viewAsTable(ctx, conn, db, t.name)
			if err != nil {
				return nil, err
			}
			stmts = append(stmts, ddl)
			continue
		}
		var ddl string
		// Names come from system.tables, not from users.
		if err := conn.QueryRow(ctx, "SHOW CREATE TABLE "+db+"."+t.name).Scan(&ddl); err != nil {
			return nil, fmt.Errorf("show create table %s.%s: %w", db, t.name, err)
		}
		stmts = append(stmts, strings.Replace(ddl, "CREATE TABLE "+db+".", "CREATE TABLE ", 1))
	}
	return stmts, nil
}

// viewAsTable returns the DDL of a table with the columns of view db.name.
func viewAsTable(ctx context.Context, conn driver.Conn, db, name string) (string, error) {
	// No ORDER BY: system.columns lists a table's columns in table order
	// (18.16 has no position column).
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, name)
	if err != nil {
		return "", fmt.Errorf("columns of view %s.%s: %w", db, name, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c, typ string
		if err := rows.Scan(&c, &typ); err != nil {
			return "", fmt.Errorf("columns of view %s.%s: %w", db, name, err)
		}
		cols = append(cols, c+" "+typ)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("columns of view %s.%s: %w", db, name, err)
	}
	return fmt.Sprintf("CREATE TABLE %s (%s) ENGINE = MergeTree ORDER BY tuple()", name, strings.Join(cols, ", ")), nil
}

// CopyTables returns the statements that recreate tables of database db
// (as the server at conn reports their definitions) and every row they
// hold, in a database of the same name: for running the same queries over
// the same data in chdb (sqlcheck.RunAs), a current ClickHouse. Rows are
// read through the server's HTTP interface at httpAddr (as user default)
// in ClickHouse's Values format, which both versions read back exactly.
func CopyTables(ctx context.Context, conn driver.Conn, httpAddr, db string, tables []string) ([]string, error) {
	ddl, err := ShowCreateTables(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, t := range tables {
		want[t] = true
	}
	out := []string{"CREATE DATABASE IF NOT EXISTS " + db}
	for _, s := range ddl {
		name := strings.Fields(strings.TrimPrefix(s, "CREATE TABLE "))[0]
		if !want[name] {
			continue
		}
		delete(want, name)
		out = append(out, strings.Replace(s, "CREATE TABLE ", "CREATE TABLE "+db+".", 1))
		rows, err := valuesOf(ctx, httpAddr, db+"."+name)
		if err != nil {
			return nil, err
		}
		if rows != "" {
			out = append(out, "INSERT INTO "+db+"."+name+" VALUES "+rows)
		}
	}
	for t := range want {
		return nil, fmt.Errorf("copy tables: %s.%s does not exist", db, t)
	}
	return out, nil
}

// valuesOf returns every row of table in the Values format.
func valuesOf(ctx context.Context, httpAddr, table string) (string, error) {
	q := url.Values{"query": {"SELECT * FROM " + table + " FORMAT Values"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("export %s: %w", table, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("export %s: %w", table, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("export %s: %w", table, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("export %s: status %d: %s", table, resp.StatusCode, b)
	}
	return string(b), nil
}

// LoadOwn is Load on a ClickHouse server of this test alone
// (testenv.ClickHouseServer), in database db: for tests that change the
// server itself (a users.d file) or read it over HTTP. The connection is
// closed and the server stopped when the test ends.
func LoadOwn(t testing.TB, db string, opts simulate.Options) (*chlocal.Server, driver.Conn, *simulate.Truth) {
	t.Helper()
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	if err := chconn.EnsureDatabase(ctx, srv.Config(db)); err != nil {
		t.Fatal(err)
	}
	conn, err := chconn.Open(ctx, srv.Config(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := migrations.Apply(ctx, conn, migrations.Options{Database: db, SkipLock: true}); err != nil {
		t.Fatal(err)
	}
	truth, err := Fill(ctx, srv.Config(db), conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv, conn, truth
}
