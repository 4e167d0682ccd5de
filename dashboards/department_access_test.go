package dashboards

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/access"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
)

// TestDepartmentDashboardAsItsReader runs every query of each department's
// own dashboard, rendered as Grafana would (the department a constant),
// through the department's data source settings: as its ClickHouse reader
// (impact access), on its database, on ClickHouse 18.16. Each answers
// exactly what the same query answers over the whole database as an
// administrator, and at least one is not empty; the same panels rendered
// for another department (as a doctored dashboard would) answer as for a
// department that does not exist, although that department has data: the
// reader sees its own numbers and nothing else.
func TestDepartmentDashboardAsItsReader(t *testing.T) {
	ctx := context.Background()
	base := "impact_dash"
	srv, conn, truth := pipelinetest.LoadOwn(t, base, simulate.Options{Seed: 9, Days: 120})
	opts := access.Options{
		SecretsFile: filepath.Join(t.TempDir(), "readers.yaml"),
		UsersFile:   filepath.Join(srv.Dir(), "users.d", "impact-departments.xml"),
		Departments: []string{"Engineering", "Operations"},
	}
	if err := os.MkdirAll(filepath.Dir(opts.UsersFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := access.Provision(ctx, conn, opts); err != nil {
		t.Fatal(err)
	}
	secrets, err := access.LoadSecrets(opts.SecretsFile)
	if err != nil {
		t.Fatal(err)
	}
	readers := secrets.Readers(base)
	if err := access.WaitReaders(ctx, srv.Config(""), readers, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	r := Request{From: truth.Start.AddDate(-3, 0, 0), To: truth.End, Interval: time.Hour}
	sel := map[string]Selection{"team": SelectAll}
	for i, rd := range readers {
		other := readers[(i+1)%len(readers)]
		dept := Department{Name: rd.Department, Reader: Datasource{User: rd.User, Database: rd.Database,
			Password: rd.Credential.Password, CredentialVersion: rd.Credential.Version()}}
		t.Run(rd.Department, func(t *testing.T) {
			// The data source's settings: the reader, its database.
			readerConn, err := chconn.Open(ctx, rd.Config(srv.Config("")))
			if err != nil {
				t.Fatal(err)
			}
			defer readerConn.Close()
			own := dept.Dashboard()
			foreign := Department{Name: other.Department}.Dashboard()
			nowhere := Department{Name: "no such department"}.Dashboard()
			nonEmpty := 0
			leaks := 0
			for _, q := range dashboardQueries(t, own) {
				sql := q.sql
				asReader := rows(t, readerConn, own, sql, sel, r)
				asAdmin := rows(t, conn, own, sql, sel, r)
				if asReader != asAdmin {
					t.Errorf("%s: as the reader\n%s\nover the whole database\n%s", q.name, asReader, asAdmin)
				}
				if asReader != rows(t, readerConn, nowhere, sql, sel, r) {
					nonEmpty++
				}
				otherAsReader := rows(t, readerConn, foreign, sql, sel, r)
				if otherAsReader != rows(t, readerConn, nowhere, sql, sel, r) {
					t.Errorf("%s: the reader of %s sees %s's data: %s", q.name, rd.Department, other.Department, otherAsReader)
				}
				if rows(t, conn, foreign, sql, sel, r) != rows(t, conn, nowhere, sql, sel, r) {
					leaks++ // the other department has data here, which the reader did not see
				}
			}
			t.Logf("%s: %d queries equal over the whole database, %d with data; %s has data in %d the reader did not see",
				rd.Department, len(dashboardQueries(t, own)), nonEmpty, other.Department, leaks)
			if nonEmpty == 0 {
				t.Errorf("every query of the %s dashboard is empty", rd.Department)
			}
			if leaks == 0 {
				t.Errorf("%s has no data in any panel: the isolation check proves nothing", other.Department)
			}
		})
	}
}

// rows renders sql of d with sel for r, runs it and returns its rows,
// printed.
func rows(t *testing.T, conn driver.Conn, d Dashboard, sql string, sel map[string]Selection, r Request) string {
	t.Helper()
	rendered, err := d.Render(sql, sel, r)
	if err != nil {
		t.Fatal(err)
	}
	_, _, out := query(t, context.Background(), conn, rendered)
	return fmt.Sprint(out)
}

type namedQuery struct{ name, sql string }

// dashboardQueries lists the variable and panel queries of d.
func dashboardQueries(t *testing.T, d Dashboard) []namedQuery {
	t.Helper()
	var out []namedQuery
	for _, v := range d.Variables {
		if v.Constant != "" {
			continue
		}
		sql, err := v.Query()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedQuery{"variable " + v.Name, sql})
	}
	for _, p := range d.Panels {
		sql, err := p.Query()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedQuery{"panel " + p.Title, sql})
	}
	return out
}
