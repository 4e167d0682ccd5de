package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/department"
	"github.com/secimpact/impact/schemas/migrations"
)

// DepartmentsTable registers the departments whose slice transform keeps.
const DepartmentsTable = "department_databases"

// slicedTables are the analyst tables a department's database holds, in
// the order they are built (impact_stats reads the department's own
// findings and deployment_facts to find its teams). Each has a
// <table>.slice.sql that selects the department's rows.
//
// deal_facts and ticket_facts are not sliced: event contract v1 gives
// deals and support tickets no department, and charging a customer's deal
// or ticket to an engineering department would be a claim the data does
// not make. A department's database has no such table, so its user reads
// none of their rows; company-wide figures stay in the CISO's view.
var slicedTables = []string{"findings", "finding_groups", "deployment_facts", "department_scorecard", "dora_changes", StatsTable}

// SlicedTables lists the analyst tables a department's database holds.
func SlicedTables() []string { return append([]string(nil), slicedTables...) }

// Department is a registered department and the database of its slice.
type Department struct {
	Name     string
	Database string
}

// Departments returns every department conn's database names (service
// catalog owners and scorecard departments), sorted. The analyst tables
// must have been built.
func Departments(ctx context.Context, conn driver.Conn) ([]string, error) {
	q, err := sqlFS.ReadFile("sql/departments.sql")
	if err != nil {
		return nil, fmt.Errorf("read departments.sql: %w", err)
	}
	rows, err := conn.Query(ctx, string(q))
	if err != nil {
		return nil, fmt.Errorf("list departments: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("list departments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RegisterDepartments creates the database of each named department and
// registers it, so that every refresh from now on rebuilds its slice. It
// does not fill the slices: RefreshDepartments (or the next Refresh) does.
// Registering a department again is harmless.
func RegisterDepartments(ctx context.Context, conn driver.Conn, names []string) ([]Department, error) {
	base, err := currentDatabase(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := execFile(ctx, conn, "departments.ddl.sql", tmplData{}); err != nil {
		return nil, err
	}
	var out []Department
	for _, n := range names {
		if n == "" {
			return nil, fmt.Errorf("register department: the empty department (services the catalog does not know) is no department")
		}
		d := Department{Name: n, Database: department.Database(base, n)}
		// The name is a slug of [a-z0-9_] (package department), never the
		// department's own text.
		if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+d.Database); err != nil {
			return nil, fmt.Errorf("create database of department %q: %w", n, err)
		}
		out = append(out, d)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+DepartmentsTable+" (department, database, registered_at)")
	if err != nil {
		return nil, fmt.Errorf("register departments: %w", err)
	}
	defer b.Close()
	now := time.Now().UTC().Truncate(time.Second)
	for _, d := range out {
		if err := b.Append(d.Name, d.Database, now); err != nil {
			return nil, fmt.Errorf("register departments: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return nil, fmt.Errorf("register departments: %w", err)
	}
	return out, nil
}

// RegisteredDepartments returns the registered departments, by name.
func RegisteredDepartments(ctx context.Context, conn driver.Conn) ([]Department, error) {
	if err := execFile(ctx, conn, "departments.ddl.sql", tmplData{}); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT department, argMax(database, registered_at) FROM "+DepartmentsTable+" GROUP BY department ORDER BY department")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", DepartmentsTable, err)
	}
	defer rows.Close()
	var out []Department
	for rows.Next() {
		var d Department
		if err := rows.Scan(&d.Name, &d.Database); err != nil {
			return nil, fmt.Errorf("read %s: %w", DepartmentsTable, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RefreshDepartments rebuilds the slice of every registered department
// from the live analyst tables, holding the transform lease like Refresh
// (which does the same at the end of every run).
func RefreshDepartments(ctx context.Context, conn driver.Conn, opts Options) (TableReport, error) {
	if err := opts.Validate(); err != nil {
		return TableReport{}, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	lease, err := migrations.AcquireLease(ctx, conn, LockName, migrations.LeaseOptions{Wait: !opts.NoWait})
	if err != nil {
		return TableReport{}, fmt.Errorf("transform departments: %w", err)
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			log.Warn("transform: release lock", "err", err)
		}
	}()
	return refreshDepartments(ctx, conn, log)
}

// refreshDepartments rebuilds every registered department's slice of each
// sliced table: <table>_next in the department's database, filled by
// <table>.slice.sql, then renamed over <table>, so the department's user
// reads the old slice or the new one, never a half-built one. The report
// counts the rows of all slices; Table is empty when no department is
// registered.
func refreshDepartments(ctx context.Context, conn driver.Conn, log *slog.Logger) (TableReport, error) {
	t0 := time.Now()
	depts, err := RegisteredDepartments(ctx, conn)
	if err != nil || len(depts) == 0 {
		return TableReport{}, err
	}
	base, err := currentDatabase(ctx, conn)
	if err != nil {
		return TableReport{}, err
	}
	rep := TableReport{Table: DepartmentsTable, Mode: Full}
	// Departments are independent and each step is mostly the server's
	// DDL bookkeeping, so a few run at once.
	rows := make([]uint64, len(depts))
	errs := make([]error, len(depts))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, d := range depts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rows[i], errs[i] = refreshDepartment(ctx, conn, base, d)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	for _, n := range rows {
		rep.Rows += n
	}
	rep.Duration = time.Since(t0)
	log.Info("transform department slices", "departments", len(depts), "rows", rep.Rows, "duration", rep.Duration.Round(time.Millisecond))
	return rep, nil
}

// refreshDepartment rebuilds one department's slices and returns their
// rows.
func refreshDepartment(ctx context.Context, conn driver.Conn, base string, d Department) (uint64, error) {
	// The name is a slug of [a-z0-9_] (package department), never the
	// department's own text.
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+d.Database); err != nil {
		return 0, fmt.Errorf("create database of department %q: %w", d.Name, err)
	}
	have := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = @db", clickhouse.Named("db", d.Database))
	if err != nil {
		return 0, fmt.Errorf("list tables of %s: %w", d.Database, err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list tables of %s: %w", d.Database, err)
		}
		have[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list tables of %s: %w", d.Database, err)
	}
	for _, table := range slicedTables {
		steps, err := sliceSteps(base, d.Database, table)
		if err != nil {
			return 0, err
		}
		// Renamed (as every table is): the slice follows the live
		// table's definition, which may have changed since it was built.
		steps = append(steps, swapSteps(d.Database+"."+table, have[table])...)
		for i, q := range steps {
			if err := conn.Exec(ctx, q, clickhouse.Named("department", d.Name)); err != nil {
				return 0, fmt.Errorf("slice %s for department %q step %d: %w", table, d.Name, i+1, err)
			}
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT sum(rows) FROM system.parts WHERE database = @db AND active",
		clickhouse.Named("db", d.Database)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", d.Database, err)
	}
	return n, nil
}

// sliceSteps returns the statements that build dept.<table>_next as a copy
// of base.<table>'s definition holding the department's rows. The
// department is the query parameter @department.
func sliceSteps(base, dept, table string) ([]string, error) {
	m := model{name: table}
	text, ok := m.file(".slice.sql")
	if !ok {
		return nil, fmt.Errorf("table %s has no slice.sql", table)
	}
	cols, err := m.columns()
	if err != nil {
		return nil, err
	}
	next := dept + "." + table + "_next"
	fill, err := statements(table+".slice.sql", text, tmplData{
		Table: next, Source: base + "." + table, Database: dept, Columns: strings.Join(cols, ", "),
	})
	if err != nil {
		return nil, err
	}
	create := []string{fmt.Sprintf("CREATE TABLE %s AS %s.%s", next, base, table)}
	if lm := modelNamed(table); lm != nil && lm.layered {
		// The live table is a view over tables of this definition, which a
		// table cannot be created AS.
		ddl, _ := lm.file(".ddl.sql")
		if create, err = statements(table+".ddl.sql", ddl, tmplData{Table: next}); err != nil {
			return nil, err
		}
	}
	return append(append([]string{"DROP TABLE IF EXISTS " + next}, create...), fill...), nil
}

// DepartmentSliceSQL returns the statements that build a department's
// slice of every sliced table from database base into database dept, with
// the department left as the parameter @department: for tests that run
// them on another server (chdb) and for reading.
func DepartmentSliceSQL(base, dept string) ([]string, error) {
	var out []string
	for _, t := range slicedTables {
		s, err := sliceSteps(base, dept, t)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
		out = append(out, swapSteps(dept+"."+t, false)...)
	}
	return out, nil
}

func currentDatabase(ctx context.Context, conn driver.Conn) (string, error) {
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		return "", fmt.Errorf("read current database: %w", err)
	}
	return db, nil
}

// TableDDL returns the CREATE TABLE statement of an analyst table in
// database db, as transform creates it.
func TableDDL(db, table string) (string, error) {
	m := model{name: table}
	text, ok := m.file(".ddl.sql")
	if !ok {
		return "", fmt.Errorf("no table %s", table)
	}
	stmts, err := statements(table+".ddl.sql", text, tmplData{Table: db + "." + table})
	if err != nil {
		return "", err
	}
	if len(stmts) != 1 {
		return "", fmt.Errorf("%s.ddl.sql holds %d statements", table, len(stmts))
	}
	return stmts[0], nil
}
