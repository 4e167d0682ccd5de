package access_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/access"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/readonly"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/sqlparam"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/transform"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// world is a ClickHouse 18.16 server of this test alone (the test writes
// its users.d) holding a simulated organisation with a reader per
// department.
type world struct {
	srv     *chlocal.Server
	admin   driver.Conn
	base    string
	opts    access.Options
	readers []access.Reader
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{base: "impact_access"}
	srv, admin, _ := pipelinetest.LoadOwn(t, w.base, simulate.Options{Seed: 7, Days: 90})
	w.srv, w.admin = srv, admin
	dir := t.TempDir()
	w.opts = access.Options{
		SecretsFile: filepath.Join(dir, "secrets.yaml"),
		UsersFile:   filepath.Join(srv.Dir(), "users.d", "impact-departments.xml"),
	}
	if err := os.MkdirAll(filepath.Dir(w.opts.UsersFile), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := access.Provision(ctx, admin, w.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Readers) < 5 || !rep.UsersFileChanged || rep.SliceRows == 0 {
		t.Fatalf("first provision: %d readers, users file changed %v, %d slice rows", len(rep.Readers), rep.UsersFileChanged, rep.SliceRows)
	}
	for _, r := range rep.Readers {
		if r.Password != access.Created {
			t.Errorf("first provision: %s password %s, want created", r.Department, r.Password)
		}
	}
	w.readers = w.loadReaders(t)
	if err := access.WaitReaders(ctx, srv.Config(""), w.readers, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) loadReaders(t *testing.T) []access.Reader {
	t.Helper()
	s, err := access.LoadSecrets(w.opts.SecretsFile)
	if err != nil {
		t.Fatal(err)
	}
	return s.Readers(w.base)
}

func (w *world) reader(t *testing.T, r access.Reader) driver.Conn {
	t.Helper()
	conn, err := chconn.Open(context.Background(), r.Config(w.srv.Config("")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func count(t *testing.T, conn driver.Conn, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// sliceChecks are, per sliced table, the predicate that selects the
// department's rows: in the full table it counts them, and in the
// reader's own table NOT it must count none.
var sliceChecks = map[string]string{
	"findings":             "department = @d",
	"finding_groups":       "department = @d",
	"deployment_facts":     "department = @d",
	"department_scorecard": "department = @d",
	"dora_changes":         "department = @d",
	"impact_stats": "dimension = 'department' AND dimension_value = @d" +
		" OR dimension = 'department_severity' AND replaceRegexpOne(dimension_value, '(?s)/[^/]*$', '') = @d" +
		" OR dimension IN ('team', 'team_severity') AND if(dimension = 'team', dimension_value, replaceRegexpOne(dimension_value, '(?s)/[^/]*$', '')) IN" +
		" (SELECT team FROM findings WHERE department = @d AND team != '' UNION ALL SELECT team FROM deployment_facts WHERE department = @d AND team != '')",
}

// escapes must all fail for a department reader, whatever the version.
func escapes(base, other string) []string {
	return []string{
		"SELECT count() FROM " + base + ".findings",
		"SELECT count() FROM " + base + ".deal_facts",
		"SELECT count() FROM " + base + ".events_raw",
		"SELECT count() FROM " + other + ".findings",
		"SELECT count() FROM (SELECT department FROM findings) ANY LEFT JOIN (SELECT department, count() AS c FROM " + base + ".findings GROUP BY department) USING department",
		"SELECT count() FROM findings WHERE department IN (SELECT department FROM " + base + ".findings)",
		"SELECT count() FROM remote('127.0.0.1', " + base + ".findings)",
		"SELECT count() FROM merge('" + base + "', '^findings$')",
		"SELECT count() FROM url('http://127.0.0.1:1/x', CSV, 'a String')",
		"INSERT INTO findings (finding_id) VALUES ('x')",
		"CREATE TABLE planted (a UInt8) ENGINE = Memory",
		"DROP TABLE findings",
		"SET readonly = 0",
		"SELECT count() FROM findings SETTINGS readonly = 0",
	}
}

func TestDepartmentReaders(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if len(w.readers) < 5 {
		t.Fatalf("%d readers", len(w.readers))
	}
	var sliced, denied []string
	for _, table := range transform.Tables() {
		if slices.Contains(transform.SlicedTables(), table) {
			sliced = append(sliced, table)
		} else {
			denied = append(denied, table)
		}
	}
	if !slices.Equal(denied, []string{"deal_facts", "ticket_facts"}) {
		t.Errorf("analyst tables without a slice: %v, want deal_facts and ticket_facts (docs/access.md explains why)", denied)
	}

	t.Run("18.16", func(t *testing.T) {
		for i, r := range w.readers {
			other := w.readers[(i+1)%len(w.readers)]
			t.Run(r.Department, func(t *testing.T) {
				conn := w.reader(t, r)
				d := clickhouse.Named("d", r.Department)
				var ownTotal uint64
				for _, table := range sliced {
					own := sliceChecks[table]
					if n := count(t, conn, "SELECT count() FROM "+table+" WHERE NOT ("+own+")", d); n != 0 {
						t.Errorf("%s: %d rows of other departments", table, n)
					}
					got := count(t, conn, "SELECT count() FROM "+table)
					want := count(t, w.admin, "SELECT count() FROM "+table+" WHERE "+own, d)
					if got != want {
						t.Errorf("%s: reader sees %d rows, the department has %d", table, got, want)
					}
					ownTotal += got
				}
				if ownTotal == 0 {
					t.Errorf("the reader sees no rows at all")
				}
				for _, table := range denied {
					if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(new(uint64)); err == nil {
						t.Errorf("%s: readable in the department's database", table)
					}
				}
				for _, q := range escapes(w.base, other.Database) {
					if err := conn.Exec(ctx, q); err == nil {
						t.Errorf("ran: %s", q)
					}
				}
				// 18.16 lists only the allowed database's tables.
				if n := count(t, conn, "SELECT count() FROM system.tables WHERE database != @db AND database != 'system'", clickhouse.Named("db", r.Database)); n != 0 {
					t.Errorf("system.tables lists %d tables of other databases", n)
				}
				if n := count(t, conn, "SELECT count() FROM system.parts WHERE database != @db", clickhouse.Named("db", r.Database)); n != 0 {
					t.Errorf("system.parts lists %d parts of other databases", n)
				}
			})
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		r := w.readers[0]
		r.Credential.Password = "not-it"
		if conn, err := chconn.Open(ctx, r.Config(w.srv.Config(""))); err == nil {
			conn.Close()
			t.Fatal("logged in with a wrong password")
		}
	})

	t.Run("current ClickHouse (chdb)", func(t *testing.T) {
		w.checkCurrent(t, sliced, denied)
	})

	t.Run("second run changes nothing, rotation replaces one password", func(t *testing.T) {
		rep, err := access.Provision(ctx, w.admin, w.opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.UsersFileChanged {
			t.Errorf("second run rewrote the users file")
		}
		for _, r := range rep.Readers {
			if r.Password != access.Unchanged {
				t.Errorf("second run: %s password %s", r.Department, r.Password)
			}
		}
		old := w.readers[0]
		opts := w.opts
		opts.Rotate = []string{old.Department}
		if rep, err = access.Provision(ctx, w.admin, opts); err != nil {
			t.Fatal(err)
		}
		if !rep.UsersFileChanged {
			t.Errorf("rotation did not rewrite the users file")
		}
		now := w.loadReaders(t)
		if now[0].Credential.Password == old.Credential.Password || now[1].Credential != w.readers[1].Credential {
			t.Fatalf("rotation changed the wrong passwords")
		}
		if err := access.WaitReaders(ctx, w.srv.Config(""), now[:1], 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if conn, err := chconn.Open(ctx, old.Config(w.srv.Config(""))); err == nil {
			conn.Close()
			t.Errorf("the rotated-out password still logs in")
		}
	})
}

// checkCurrent repeats the reader checks on a current ClickHouse: the
// world's tables and rows are copied into chdb, the department slices are
// built there by transform's own statements, and the queries run as the
// department's user as access.UsersXML defines it for current releases.
func (w *world) checkCurrent(t *testing.T, sliced, denied []string) {
	ctx := context.Background()
	r, other := w.readers[0], w.readers[1]
	setup, err := pipelinetest.CopyTables(ctx, w.admin, w.srv.HTTPAddr(), w.base, append(append([]string{}, sliced...), denied...))
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range []access.Reader{r, other} {
		stmts, err := transform.DepartmentSliceSQL(w.base, rd.Database)
		if err != nil {
			t.Fatal(err)
		}
		setup = append(setup, "CREATE DATABASE "+rd.Database)
		for _, s := range stmts {
			s, err := sqlparam.Bind(s, map[string]string{"department": rd.Department})
			if err != nil {
				t.Fatal(err)
			}
			setup = append(setup, s)
		}
	}
	// The reader as access.UsersXML writes it for current releases, named
	// "default" (chdb runs every query as that user) and with no password,
	// beside the reader
	// profile. Its constraints (changeable_in_readonly) are left out:
	// clickhouse-local cannot enable them (sqlcheck.RunAs), and they only
	// let a reader lower max_execution_time.
	as := r
	as.User = "default"
	users := string(access.UsersXML([]access.Reader{as}, access.Current))
	users = users[strings.Index(users, "<users>") : strings.Index(users, "</users>")+len("</users>")]
	// chdb logs its session in as default with an empty password, so the
	// hashed password cannot be exercised here (18.16 above checks it).
	users = regexp.MustCompile(`<password_sha256_hex>[0-9a-f]{64}</password_sha256_hex>`).ReplaceAllString(users, "<password></password>")
	usersXML := "<clickhouse><profiles><default/>\n" + readonly.ProfileXML("        ", false) + "</profiles>\n" + users + "\n<quotas><default/></quotas></clickhouse>\n"

	var queries []string
	type check struct {
		query string
		want  string // expected rows; "" with fail: must fail
		fail  bool
	}
	var checks []check
	for _, table := range sliced {
		own := sliceChecks[table]
		foreign, err := sqlparam.Bind("NOT ("+own+")", map[string]string{"d": r.Department})
		if err != nil {
			t.Fatal(err)
		}
		foreign = strings.NewReplacer("FROM findings", "FROM "+r.Database+".findings",
			"FROM deployment_facts", "FROM "+r.Database+".deployment_facts").Replace(foreign)
		want := count(t, w.admin, "SELECT count() FROM "+table+" WHERE "+own, clickhouse.Named("d", r.Department))
		checks = append(checks,
			check{query: "SELECT count() FROM " + r.Database + "." + table + " WHERE " + foreign, want: "0"},
			check{query: "SELECT count() FROM " + r.Database + "." + table, want: fmt.Sprint(want)})
	}
	for _, table := range denied {
		checks = append(checks, check{query: "SELECT count() FROM " + r.Database + "." + table, fail: true})
	}
	for _, q := range escapes(w.base, other.Database) {
		q = strings.ReplaceAll(q, " FROM findings", " FROM "+r.Database+".findings")
		q = strings.ReplaceAll(q, "INTO findings", "INTO "+r.Database+".findings")
		q = strings.ReplaceAll(q, "TABLE findings", "TABLE "+r.Database+".findings")
		q = strings.ReplaceAll(q, "TABLE planted", "TABLE "+r.Database+".planted")
		checks = append(checks, check{query: q, fail: true})
	}
	checks = append(checks,
		check{query: "SELECT count() FROM system.tables WHERE database = '" + w.base + "'", want: "0"},
		check{query: "SELECT count() FROM system.parts WHERE database = '" + w.base + "'", want: "0"},
		check{query: "SELECT getSetting('readonly')", want: "1"})
	for _, c := range checks {
		queries = append(queries, c.query)
	}
	res, answers, err := sqlcheck.RunAs(ctx, setup, usersXML, queries)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("department reader checked on ClickHouse %s (chdb): %d queries", res.Version, len(queries))
	for i, c := range checks {
		a := answers[i]
		switch {
		case c.fail && a.OK:
			t.Errorf("ran on current ClickHouse: %s", c.query)
		case !c.fail && !a.OK:
			t.Errorf("%s: %s", c.query, a.Error)
		case !c.fail && strings.TrimSpace(a.Rows) != c.want:
			t.Errorf("%s: got %q, want %s", c.query, strings.TrimSpace(a.Rows), c.want)
		}
	}
}

// quote is a ClickHouse string literal of s, for the test's own statements.
