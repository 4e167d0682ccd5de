package dashboards

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/testenv"
)

// hostileValues are values a template variable can hold: custom values
// typed into the dropdown, var-NAME parameters of a shared link, and
// department or team names that arrived in events (a stored attack). None
// may change a query's structure.
func hostileValues(url string) []string {
	return []string{
		"nosuch' OR 1=1 OR department='",
		"R&D's lab",
		`x\' OR 1=1 --`,
		`\`,
		`\\'`,
		`\'`,
		`''`,
		`'; DROP TABLE findings; --`,
		"x' UNION ALL SELECT * FROM url('" + url + "', TSV, 's String') --",
		"x') OR (1=1",
		"/* x */ y */",
		"a -- b",
		"a\nOR 1=1",
		"a\tb\r\n",
		"Ünïcødé 部门 🚀 ’ ＇",
		"100% %41 %2527 + plus",
		"${department} $team [[team]] $__timeFilter(x) $__toTime",
		"a;b; SELECT 1",
		`"quoted" ` + "`back`",
		"__all",
		"",
		"nul\x00byte",
		strings.Repeat("é'\\", 300),
	}
}

// hostileSelections returns every way to select values for dept and team that
// the tests try: each hostile value for one variable with a plain value,
// "All", and lists (several var-NAME parameters, or a multi-value variable).
func hostileSelections(values []string) []map[string]Selection {
	var out []map[string]Selection
	for _, v := range values {
		out = append(out,
			map[string]Selection{"department": Select(v), "team": SelectAll},
			map[string]Selection{"department": Select(v), "team": Select(v)},
			map[string]Selection{"department": Select("x"), "team": Select(v)},
		)
	}
	out = append(out,
		map[string]Selection{"department": {Values: []string{"a'", `b\`}, Multi: true}, "team": {Values: []string{`\`, "' OR 1=1 --"}, Multi: true}},
		map[string]Selection{"department": {Values: []string{"x"}, Multi: true}, "team": {Values: nil, Multi: true}},
		map[string]Selection{"department": SelectAll, "team": SelectAll},
		map[string]Selection{},
	)
	return out
}

// token is one lexical token of ClickHouse SQL.
type token struct {
	kind string // string, quoted (identifier), word, number, punct, unterminated
	text string
}

// sqlTokens splits sql as ClickHouse's lexer does for what these queries
// hold: string literals in single quotes with backslash escapes and ”
// (both 18.16 and current releases), identifiers quoted in " or `, -- and
// /* */ comments (dropped), words, numbers, and single-character
// punctuation.
func sqlTokens(sql string) []token {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return out
			}
			i += j
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return append(out, token{"unterminated", sql[i:]})
			}
			i += 2 + j + 2
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(sql); j++ {
				if sql[j] == '\\' {
					j++
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(sql) {
				return append(out, token{"unterminated", sql[i:]})
			}
			kind := "string"
			if c != '\'' {
				kind = "quoted"
			}
			out = append(out, token{kind, sql[i : j+1]})
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i + 1
			for j < len(sql) && (sql[j] == '_' || sql[j] == '$' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9' || sql[j] >= 0x80) {
				j++
			}
			out = append(out, token{"word", sql[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' || sql[j] == 'x') {
				j++
			}
			out = append(out, token{"number", sql[i:j]})
			i = j
		default:
			out = append(out, token{"punct", sql[i : i+1]})
			i++
		}
	}
	return out
}

// sameStructure reports whether a and b are the same query apart from the
// contents of string literals, and where they first differ.
func sameStructure(a, b string) (bool, string) {
	ta, tb := sqlTokens(a), sqlTokens(b)
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i].kind != tb[i].kind || ta[i].kind != "string" && ta[i].text != tb[i].text {
			return false, fmt.Sprintf("token %d: %s %q vs %s %q", i, ta[i].kind, ta[i].text, tb[i].kind, tb[i].text)
		}
	}
	if len(ta) != len(tb) {
		return false, fmt.Sprintf("%d tokens vs %d", len(ta), len(tb))
	}
	return true, ""
}

func TestSQLTokens(t *testing.T) {
	got := sqlTokens("SELECT a, 'it\\'s', 'x''y' -- c\n FROM `t` /* d */ WHERE b = 1.5")
	want := []token{{"word", "SELECT"}, {"word", "a"}, {"punct", ","}, {"string", `'it\'s'`}, {"punct", ","}, {"string", "'x''y'"},
		{"word", "FROM"}, {"quoted", "`t`"}, {"word", "WHERE"}, {"word", "b"}, {"punct", "="}, {"number", "1.5"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// A value pasted raw changes the structure; the check sees it.
	if ok, _ := sameStructure("WHERE d = 'x'", "WHERE d = 'nosuch' OR 1=1 OR department=''"); ok {
		t.Error("injection not detected")
	}
	// Grafana's sqlstring format on x\' OR 1=1 --: the quote is doubled,
	// the backslash escapes the first of the two.
	if ok, _ := sameStructure(`WHERE d = 'x'`, `WHERE d = 'x\'' OR 1=1 --'`); ok {
		t.Error("backslash-quote injection not detected")
	}
	if ok, _ := sameStructure(`WHERE d = 'x'`, `WHERE d = 'x\' OR 1=1 --'`); !ok {
		t.Error("an escaped quote inside a literal is not an injection")
	}
}

// TestVariablesCannotChangeQueries renders every query of every dashboard
// (panels and variable queries) with hostile variable values through
// Grafana's interpolation and the plugin's macros, and checks the SQL
// ClickHouse would receive is the same query as with a plain value, only
// string literals differing.
func TestVariablesCannotChangeQueries(t *testing.T) {
	r := Request{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Interval: time.Hour}
	plain := map[string]Selection{"department": Select("x"), "team": Select("x")}
	sels := hostileSelections(hostileValues("http://127.0.0.1:9/secret"))
	for _, d := range All() {
		queries, err := d.Queries()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			base, err := d.Render(q.SQL, plain, r)
			if err != nil {
				t.Fatalf("%s: %v", q.Name, err)
			}
			failed := 0
			for _, sel := range sels {
				got, err := d.Render(q.SQL, sel, r)
				if err != nil {
					t.Fatalf("%s: %v", q.Name, err)
				}
				if ok, where := sameStructure(base, got); !ok && failed < 3 {
					failed++
					t.Errorf("%s %s with %v: the values changed the query (%s):\n%s", d.UID, q.Name, sel, where, got)
				}
			}
		}
	}
}

// TestGrafanaFormatsUnsafeForClickHouse documents why only percentencode
// is allowed: Grafana's SQL-ish formats leave a backslash in place, and a
// ClickHouse string literal reads \' as an escaped quote.
func TestGrafanaFormatsUnsafeForClickHouse(t *testing.T) {
	d := department()
	for _, c := range []struct{ sql, value string }{
		{"WHERE department = '${department}'", "nosuch' OR 1=1 OR department='"},
		{"WHERE department = ${department:sqlstring}", `x\' OR 1=1 --`},
		{"WHERE department IN (${department:singlequote})", `x\' OR 1=1 --`},
	} {
		got, err := d.Interpolate(c.sql, map[string]Selection{"department": Select(c.value)})
		if err != nil {
			t.Fatal(err)
		}
		base, _ := d.Interpolate(c.sql, map[string]Selection{"department": Select("x")})
		if ok, _ := sameStructure(base, got); ok {
			t.Errorf("%s: expected the injection to get through, got %s", c.sql, got)
		}
	}
}

// TestHostileVariablesOnClickHouse runs the department dashboard, as
// Grafana does (reader user, rendered SQL), over a database where
// departments and teams carry hostile names (a stored attack) beside twins
// with plain names holding the same rows: every panel and variable query
// must answer for a hostile name exactly what it answers for its twin,
// and for attack values exactly what it answers for a department that does
// not exist. No query may make the server fetch a URL. The same rendered
// SQL then runs on a current ClickHouse (chdb), where each value must also
// decode back to itself.
func TestHostileVariablesOnClickHouse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "top-secret")
	}))
	defer srv.Close()

	l := pipelinetest.Load(t, simulate.Options{Seed: 9, Days: 90})
	admin := l.Conn
	reader, err := chconn.Open(ctx, testenv.Reader(l.Config))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	r := Request{From: l.Truth.Start.AddDate(-3, 0, 0), To: l.Truth.End, Interval: time.Hour}

	var source, sourceTeam string
	if err := admin.QueryRow(ctx, "SELECT department FROM department_scorecard WHERE department != '(unassigned)' ORDER BY department LIMIT 1").Scan(&source); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(ctx, "SELECT team FROM findings WHERE department = ? AND team != '' ORDER BY team LIMIT 1", source).Scan(&sourceTeam); err != nil {
		t.Fatal(err)
	}
	// Stored names: every hostile value becomes a department, with a team
	// of the same name, beside a plain twin.
	values := hostileValues(srv.URL + "/secret")
	var twins []twin
	for i, v := range values {
		if v == "" || v == "__all" {
			continue // the empty name and the All value mean something else
		}
		p := twin{v, v + " team", fmt.Sprintf("twin-%d-dept", i), fmt.Sprintf("twin-%d-team", i)}
		twins = append(twins, p)
	}
	var planted [][2]string
	for _, p := range twins {
		planted = append(planted, [2]string{p.dept, p.team}, [2]string{p.twinDept, p.twinTeam})
	}
	plant(t, admin, source, sourceTeam, planted)
	// Values typed in or linked that name no stored department.
	typed := []map[string]Selection{
		{"department": Select("x' UNION ALL SELECT * FROM url('" + srv.URL + "/typed', TSV, 's String') --"), "team": SelectAll},
		{"department": Select("nosuch' OR 1=1 OR department='x"), "team": SelectAll},
		{"department": Select(`zz' OR 1=1 --`), "team": SelectAll},
		{"department": {Values: []string{"a'", `b\`}, Multi: true}, "team": SelectAll},
		{"department": {Values: []string{twins[0].dept, twins[1].dept}, Multi: true}, "team": SelectAll},
		{"department": Select(""), "team": SelectAll},
		{"department": SelectAll, "team": {Values: []string{"' OR 1=1 --", `\`}, Multi: true}},
	}

	d := department()
	queries, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var rendered []string
	run := func(q NamedQuery, sel map[string]Selection) string {
		t.Helper()
		sql, err := d.Render(q.SQL, sel, r)
		if err != nil {
			t.Fatal(err)
		}
		rendered = append(rendered, sql)
		qctx, cancel := context.WithTimeout(ctx, 60*time.Second) // as the plugin does
		defer cancel()
		_, _, rows := query(t, qctx, reader, sql)
		return fmt.Sprint(rows)
	}

	for _, q := range queries[1:] { // the department list takes no variable: checked below
		none := run(q, map[string]Selection{"department": Select("no such department"), "team": SelectAll})
		// Stored hostile names answer exactly as their twins, which have
		// data (else the comparison would prove nothing).
		informative := false
		for _, p := range twins {
			for _, teams := range [][2]Selection{{SelectAll, SelectAll}, {Select(p.team), Select(p.twinTeam)}} {
				got := run(q, map[string]Selection{"department": Select(p.dept), "team": teams[0]})
				want := run(q, map[string]Selection{"department": Select(p.twinDept), "team": teams[1]})
				informative = informative || want != none
				// The team dropdown lists the twin's team by its name.
				want = strings.ReplaceAll(strings.ReplaceAll(want, p.twinTeam, p.team), p.twinDept, p.dept)
				if got != want {
					t.Errorf("%s: department %q answers differently from its twin:\n got %.300s\nwant %.300s", q.Name, p.dept, got, want)
				}
			}
		}
		if !informative {
			t.Errorf("%s: no twin department answers differently from a missing one; the test proves nothing", q.Name)
		}
		for _, sel := range typed {
			if got := run(q, sel); got != none {
				t.Errorf("%s with %v: answers %.300s, a missing department answers %.300s", q.Name, sel, got, none)
			}
		}
	}

	// The department dropdown lists the stored names verbatim.
	options := run(queries[0], nil)
	for _, p := range twins {
		if !strings.Contains(options, p.dept) {
			t.Errorf("department options lack %q", p.dept)
		}
	}

	// Each value decodes back to itself, on 18.16 and on a current release.
	litRe := regexp.MustCompile(`decodeURLComponent\('([^']*)'\)`)
	var roundTrip []string
	for _, v := range values {
		sql, err := d.Render("SELECT decodeURLComponent('${department:percentencode}') AS v", map[string]Selection{"department": Select(v)}, r)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := reader.QueryRow(ctx, sql).Scan(&got); err != nil || got != v {
			t.Errorf("%q decodes to %q on ClickHouse 18.16 (%v)", v, got, err)
		}
		enc := litRe.FindStringSubmatch(sql)[1]
		roundTrip = append(roundTrip, fmt.Sprintf("SELECT throwIf(decodeURLComponent('%s') != unhex('%s'))", enc, hex.EncodeToString([]byte(v))))
	}

	if n := hits.Load(); n != 0 {
		t.Errorf("ClickHouse fetched the attack URL %d times", n)
	}

	t.Run("chdb current ClickHouse", func(t *testing.T) {
		stmts, err := pipelinetest.ShowCreateTables(ctx, admin, l.DB())
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, roundTrip...)
		seen := map[string]bool{}
		for _, sql := range rendered {
			if !seen[sql] {
				seen[sql] = true
				stmts = append(stmts, sql)
			}
		}
		res := sqlcheck.RunChDB(t, stmts)
		t.Logf("chdb ClickHouse %s ran %d statements", res.Version, len(stmts))
		if n := hits.Load(); n != 0 {
			t.Errorf("chdb fetched the attack URL %d times", n)
		}
	})
}

// twin is a department and team with a hostile name and their plain
// twins, holding the same rows.
type twin struct{ dept, team, twinDept, twinTeam string }

// plant copies the source department's rows of the department tables
// once for every (department, team) pair, in one INSERT per table (the
// fact tables are partitioned, so an INSERT per pair would leave
// thousands of small parts); in impact_stats, the figures the panels read,
// the source department's rows and one of its teams' rows (sourceTeam).
func plant(t *testing.T, conn driver.Conn, source, sourceTeam string, pairs [][2]string) {
	t.Helper()
	ctx := context.Background()
	lit := func(s string) string { return "unhex('" + hex.EncodeToString([]byte(s)) + "')" }
	var tuples []string
	for _, p := range pairs {
		tuples = append(tuples, "("+lit(p[0])+", "+lit(p[1])+")")
	}
	var cols []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'impact_stats'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	for i, m := range []struct{ plain, nested, from string }{{"department", "department_severity", source}, {"team", "team_severity", sourceTeam}} {
		var exprs []string
		for _, c := range cols {
			if c == "dimension_value" {
				to := fmt.Sprintf("tupleElement(planted, %d)", i+1)
				c = fmt.Sprintf("if(dimension = '%s', %s, concat(%s, '/', replaceRegexpOne(dimension_value, '(?s)^.*/', '')))", m.plain, to, to)
			}
			exprs = append(exprs, c)
		}
		sql := fmt.Sprintf("INSERT INTO impact_stats (%s) SELECT %s FROM impact_stats ARRAY JOIN [%s] AS planted WHERE (dimension = '%s' AND dimension_value = %s) OR (dimension = '%s' AND substring(dimension_value, 1, length(%s) + 1) = concat(%s, '/'))",
			strings.Join(cols, ", "), strings.Join(exprs, ", "), strings.Join(tuples, ", "), m.plain, lit(m.from), m.nested, lit(m.from), lit(m.from))
		if err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("plant %d departments in impact_stats: %v", len(pairs), err)
		}
	}
	for _, table := range []string{"department_scorecard", "findings", "deployment_facts", "dora_changes"} {
		rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '"+table+"'")
		if err != nil {
			t.Fatal(err)
		}
		var cols, exprs []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
			switch c {
			case "department":
				exprs = append(exprs, "tupleElement(planted, 1)")
			case "team":
				exprs = append(exprs, "tupleElement(planted, 2)")
			default:
				exprs = append(exprs, c)
			}
		}
		rows.Close()
		// findings is a view; its rows are in its base table (after a
		// full refresh the only layer table).
		target := table
		if table == "findings" {
			if err := conn.QueryRow(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'findings\\_base\\_%'").Scan(&target); err != nil {
				t.Fatalf("base table of findings: %v", err)
			}
		}
		sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ARRAY JOIN [%s] AS planted WHERE department = %s",
			target, strings.Join(cols, ", "), strings.Join(exprs, ", "), table, strings.Join(tuples, ", "), lit(source))
		if err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("plant %d departments in %s: %v", len(pairs), table, err)
		}
	}
}
