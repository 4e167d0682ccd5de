package dashboards

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/stats"
)

// pipelineDB runs the real pipeline on a small simulated organisation:
// simulate -> Kafka -> ingest (drain) -> transform, and returns the
// connection and the simulation's truth.
func pipelineDB(t testing.TB, scale float64) (driver.Conn, string, *simulate.Truth) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	chCfg := testenv.ClickHouse(t)
	kCfg := testenv.Kafka(t)

	var buf bytes.Buffer
	truth, err := simulate.WriteJSONL(ctx, &buf, simulate.Options{Seed: 5, Days: 240, Scale: scale})
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	w, err := kafkaio.NewWriter(kCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kafkaio.Publish(ctx, w, &buf, kafkaio.PublishOptions{Topics: kCfg.Topics}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ingest.Run(ctx, ingest.Config{Kafka: kCfg, ClickHouse: chCfg, Drain: true, NoMigrate: true,
		GroupID: "dashboards" + testenv.TopicSuffix(t)}); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	conn, err := chconn.Open(ctx, chCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A named process change, so the difference-in-differences panel has rows.
	change := transform.Change{Name: "questionnaire-automation", Date: truth.Start.AddDate(0, 4, 0)}
	if _, err := transform.Refresh(ctx, conn, transform.Options{AsOf: truth.End, Full: true, Stats: transform.StatsOptions{Changes: []transform.Change{change}}}); err != nil {
		t.Fatalf("transform: %v", err)
	}
	return conn, chCfg.DB(), truth
}

// panelCase is one panel query as Grafana would send it.
type panelCase struct {
	dash  Dashboard
	panel Panel
	vars  map[string]string
	sql   string // expanded
}

func (c panelCase) name() string {
	v := ""
	if len(c.vars) > 0 {
		keys := slices.Sorted(maps.Keys(c.vars))
		for _, k := range keys {
			v += fmt.Sprintf(" %s=%s", k, c.vars[k])
		}
	}
	return c.dash.UID + "/" + c.panel.SQL + v
}

// TestPanelQueries runs every panel query, with variables and macros
// expanded exactly as Grafana and the plugin do, on ClickHouse 18.16 over
// simulated data, checks each result has the shape its panel needs, checks
// the CISO figures against the simulation's truth, and runs the same
// queries on a current ClickHouse (chdb) over the same table definitions.
func TestPanelQueries(t *testing.T) {
	conn, db, truth := pipelineDB(t, 0.15)
	ctx := context.Background()

	// Business dashboards look at the whole simulation (the legacy finding
	// backlog and early deployments predate truth.Start); pipeline health at
	// the wall-clock time ingest ran.
	simRange := Request{From: truth.Start.AddDate(-3, 0, 0), To: truth.End, Interval: time.Hour}
	now := time.Now().UTC().Truncate(time.Second)
	wallRange := Request{From: now.Add(-time.Hour), To: now.Add(time.Minute), Interval: time.Minute}

	department, team := firstVariableValues(t, conn, simRange)
	var cases []panelCase
	for _, d := range All() {
		r := simRange
		if d.UID == UIDPipeline {
			r = wallRange
		}
		varSets := []map[string]string{nil}
		if len(d.Variables) > 0 {
			varSets = []map[string]string{
				{"department": department, "team": AllValue},
				{"department": department, "team": team},
			}
		}
		for _, vars := range varSets {
			for _, p := range d.Panels {
				raw, err := p.Query()
				if err != nil {
					t.Fatal(err)
				}
				sql, err := d.Render(raw, selections(vars), r)
				if err != nil {
					t.Fatalf("%s: %v", p.SQL, err)
				}
				cases = append(cases, panelCase{dash: d, panel: p, vars: vars, sql: sql})
			}
		}
	}

	results := map[string][]map[string]any{}
	withVars := map[string][]map[string]any{} // by panel SQL and team selection
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			if strings.Contains(c.sql, "$") {
				t.Fatalf("unexpanded variable or macro left:\n%s", c.sql)
			}
			cols, types, rows := query(t, ctx, conn, c.sql)
			if strings.Join(cols, ",") != strings.Join(c.panel.Columns, ",") {
				t.Errorf("columns %v, panel expects %v", cols, c.panel.Columns)
			}
			if c.panel.Kind == TimeSeries && (len(types) == 0 || types[0] != "DateTime") {
				t.Errorf("time series must return a DateTime first, got %v", types)
			}
			if len(rows) == 0 {
				t.Errorf("no rows on simulated data")
			}
			if c.panel.Kind == Stat && len(rows) != 1 {
				t.Errorf("stat returned %d rows, want 1", len(rows))
			}
			if c.vars == nil {
				results[c.panel.SQL] = rows
			} else {
				withVars[c.panel.SQL+" team="+c.vars["team"]] = rows
			}
		})
	}

	t.Run("department DORA: the department row is the whole department whatever the team", func(t *testing.T) {
		dept := func(rows []map[string]any) map[string]any {
			out := map[string]any{}
			for _, r := range rows {
				if r["team"] == "(department)" {
					out[r["gate"].(string)] = r["n_changes"]
				}
			}
			return out
		}
		all, one := dept(withVars["department/dora.sql team="+AllValue]), dept(withVars["department/dora.sql team="+team])
		if len(all) == 0 || !reflect.DeepEqual(all, one) {
			t.Errorf("(department) changes by gate: %v with every team, %v with team %s", all, one, team)
		}
	})

	t.Run("CISO figures equal the simulation truth", func(t *testing.T) {
		checkCISOTruth(t, conn, results, truth)
	})

	t.Run("DORA figures equal the simulation truth", func(t *testing.T) {
		checkDORATruth(t, results["delivery/dora.sql"], truth)
	})

	t.Run("chdb current ClickHouse", func(t *testing.T) {
		// The real table definitions, then every expanded query.
		stmts, err := pipelinetest.ShowCreateTables(ctx, conn, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			stmts = append(stmts, c.sql)
		}
		r := sqlcheck.RunChDB(t, stmts)
		t.Logf("chdb ClickHouse %s ran %d statements", r.Version, len(stmts))
	})
}

func firstVariableValues(t *testing.T, conn driver.Conn, r Request) (dept, team string) {
	t.Helper()
	d := department()
	ctx := context.Background()
	sql, err := d.Variables[0].Query()
	if err != nil {
		t.Fatal(err)
	}
	_, _, rows := query(t, ctx, conn, mustExpand(t, d, sql, nil, r))
	for _, row := range rows {
		if v := row["department"].(string); v != "" {
			dept = v
			break
		}
	}
	if dept == "" {
		t.Fatalf("department variable returned no department: %v", rows)
	}
	sql, err = d.Variables[1].Query()
	if err != nil {
		t.Fatal(err)
	}
	_, _, rows = query(t, ctx, conn, mustExpand(t, d, sql, map[string]string{"department": dept}, r))
	for _, row := range rows {
		if v := row["team"].(string); v != "" {
			team = v
			break
		}
	}
	if team == "" {
		t.Fatalf("team variable returned no team for %s", dept)
	}
	return dept, team
}

// selections turns name=value pairs into Grafana selections; AllValue
// selects "All".
func selections(vars map[string]string) map[string]Selection {
	sel := map[string]Selection{}
	for k, v := range vars {
		sel[k] = Select(v)
		if v == AllValue {
			sel[k] = SelectAll
		}
	}
	return sel
}

func mustExpand(t *testing.T, d Dashboard, sql string, vars map[string]string, r Request) string {
	t.Helper()
	out, err := d.Render(sql, selections(vars), r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// query runs sql and returns column names, ClickHouse type names and rows.
func query(t *testing.T, ctx context.Context, conn driver.Conn, sql string) ([]string, []string, []map[string]any) {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("query failed on ClickHouse: %v\n%s", err, sql)
	}
	defer rows.Close()
	cols := rows.Columns()
	var types []string
	for _, ct := range rows.ColumnTypes() {
		types = append(types, ct.DatabaseTypeName())
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, ct := range rows.ColumnTypes() {
			vals[i] = newScanTarget(ct.ScanType())
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("scan: %v", err)
		}
		row := map[string]any{}
		for i, c := range cols {
			row[c] = deref(vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return cols, types, out
}

func num(t *testing.T, row map[string]any, col string) float64 {
	t.Helper()
	switch v := row[col].(type) {
	case float64:
		return v
	case uint64:
		return float64(v)
	case int64:
		return float64(v)
	case uint32:
		return float64(v)
	case int32:
		return float64(v)
	case uint8:
		return float64(v)
	case nil:
		t.Fatalf("%s is NULL", col)
	}
	t.Fatalf("%s has type %T", col, row[col])
	return 0
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func checkCISOTruth(t *testing.T, conn driver.Conn, results map[string][]map[string]any, truth *simulate.Truth) {
	one := func(sql string) map[string]any {
		rows := results[sql]
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows", sql, len(rows))
		}
		return rows[0]
	}
	// Over the whole simulation every panel shows the all-data row.
	for _, sql := range []string{"ciso/win_rate_diff.sql", "ciso/revenue.sql", "ciso/csat_change.sql", "ciso/gate_delay.sql"} {
		if p := one(sql)["period_shown"]; p != "all" {
			t.Errorf("%s shows period %v, want all", sql, p)
		}
	}
	w := one("ciso/win_rate_diff.sql")
	if got := num(t, w, "pooled_difference_confounded_by_segment"); !near(got, truth.Deals.FastMinusSlowPooled) {
		t.Errorf("pooled difference %v, truth %v", got, truth.Deals.FastMinusSlowPooled)
	}
	// The adjusted figure: Mantel-Haenszel over the segments with the
	// minimum n fast and slow deals, blank when none has.
	var strata []stats.Stratum
	n := 0
	for _, seg := range simulate.Segments {
		f, sl := truth.Deals.BySegmentLandmarkBucket[seg]["fast"], truth.Deals.BySegmentLandmarkBucket[seg]["slow"]
		if f.N >= stats.DefaultMinN && sl.N >= stats.DefaultMinN {
			strata = append(strata, stats.Stratum{X1: f.Won, N1: f.N, X0: sl.Won, N0: sl.N})
			n += f.N + sl.N
		}
	}
	if len(strata) == 0 {
		if w["adjusted_difference"] != nil || w["evidence_level"] != "insufficient" {
			t.Errorf("no segment has the minimum n, yet the adjusted difference shows %v (%v)", w["adjusted_difference"], w["evidence_level"])
		}
	} else {
		if got, want := num(t, w, "adjusted_difference"), stats.MantelHaenszelRD(strata, 0.95).Value; !near(got, want) {
			t.Errorf("adjusted difference %v, truth %v", got, want)
		}
		if got := num(t, w, "n_deals"); int(got) != n {
			t.Errorf("adjusted difference n %v, truth %d", got, n)
		}
	}
	r := one("ciso/revenue.sql")
	if got := num(t, r, "recorded_lost_to_security_usd"); !near(got, truth.Deals.RevenueLostSecurityUSD) {
		t.Errorf("revenue recorded lost %v, truth %v", got, truth.Deals.RevenueLostSecurityUSD)
	}
	if got := num(t, r, "n_deals_lost_to_security"); int(got) != truth.Deals.LostSecurity {
		t.Errorf("deals lost to security %v, truth %d", got, truth.Deals.LostSecurity)
	}
	// Intervals bracket their estimates where there is one.
	for _, c := range [][2]string{{"ciso/csat_change.sql", "csat_change"}, {"ciso/gate_delay.sql", "delay_hours"}} {
		row := one(c[0])
		if row[c[1]] == nil {
			continue // below the minimum n at this volume
		}
		if lo, est, hi := num(t, row, "ci_low"), num(t, row, c[1]), num(t, row, "ci_high"); !(lo <= est && est <= hi) {
			t.Errorf("%s interval [%v, %v] does not bracket %v", c[0], lo, hi, est)
		}
	}
	// Incident cost and control spend per department, apart.
	inc, ctl := map[string]float64{}, map[string]float64{}
	for _, row := range results["ciso/cost_of_risk_by_department.sql"] {
		d := row["department"].(string)
		inc[d], ctl[d] = num(t, row, "incident_cost_usd"), num(t, row, "control_spend_usd")
	}
	for d, want := range truth.Departments {
		if !near(inc[d], want.IncidentCostUSD) || !near(ctl[d], want.VendorAssessmentCostUSD+want.VendorMonitoringCostUSD) {
			t.Errorf("%s: incident cost %v, control spend %v; truth %v, %v", d, inc[d], ctl[d], want.IncidentCostUSD, want.VendorAssessmentCostUSD+want.VendorMonitoringCostUSD)
		}
	}
	if !near(inc["(unassigned)"], truth.Incidents.UnattributedCostUSD) {
		t.Errorf("unassigned incident cost %v, truth %v", inc["(unassigned)"], truth.Incidents.UnattributedCostUSD)
	}
	var lost float64
	for _, row := range results["ciso/revenue_lost_by_quarter.sql"] {
		lost += num(t, row, "revenue_lost_security_usd")
	}
	if !near(lost, truth.Deals.RevenueLostSecurityUSD) {
		t.Errorf("quarterly revenue lost sums to %v, truth %v", lost, truth.Deals.RevenueLostSecurityUSD)
	}
}

// checkDORATruth compares the Delivery dashboard's DORA table over the
// whole simulation with the truth: per department and per service, split
// by gate block, the changes, failures, change failure rate and
// security fixes.
func checkDORATruth(t *testing.T, rows []map[string]any, truth *simulate.Truth) {
	t.Helper()
	seen := 0
	for _, row := range rows {
		level, name := row["level"].(string), row["name"].(string)
		key := "unblocked"
		if row["gate"] == "blocked" {
			key = "blocked"
		}
		var want simulate.DORAGroup
		switch level {
		case "department":
			want = truth.DORA.ByDepartment[name][key]
		case "service":
			want = truth.DORA.ByService[name][key]
		default:
			continue
		}
		seen++
		if got := int(num(t, row, "n_changes")); got != want.Changes {
			t.Errorf("%s %s %s: %d changes, truth %d", level, name, key, got, want.Changes)
		}
		if got := int(num(t, row, "failures")); got != want.Failures {
			t.Errorf("%s %s %s: %d failures, truth %d", level, name, key, got, want.Failures)
		}
		if got := num(t, row, "failure_rate"); !near(got, float64(want.Failures)/float64(want.Changes)) {
			t.Errorf("%s %s %s: failure rate %v, truth %v", level, name, key, got, float64(want.Failures)/float64(want.Changes))
		}
		if got := int(num(t, row, "security_fixes")); got != want.SecurityFixes {
			t.Errorf("%s %s %s: %d security fixes, truth %d", level, name, key, got, want.SecurityFixes)
		}
	}
	want := 0
	for _, m := range []map[string]map[string]simulate.DORAGroup{truth.DORA.ByDepartment, truth.DORA.ByService} {
		for _, g := range m {
			want += len(g)
		}
	}
	if seen != want || seen == 0 {
		t.Errorf("%d department and service rows, truth has %d groups", seen, want)
	}
	if truth.DORA.Overall["blocked"].Failures == 0 || truth.DORA.Overall["unblocked"].Failures == 0 {
		t.Errorf("degenerate simulation: %+v", truth.DORA.Overall)
	}
}
