package dashboards_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/dashboards"
	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/demo"
	"github.com/secimpact/impact/internal/testenv"
)

// panelRow runs one panel query of a dashboard as Grafana sends it for the
// range [from, to) and returns its single row.
func panelRow(t *testing.T, conn driver.Conn, uid, sqlFile string, sel map[string]dashboards.Selection, p brief.Period) map[string]any {
	t.Helper()
	for _, d := range dashboards.All() {
		if d.UID != uid {
			continue
		}
		for _, pn := range d.Panels {
			if pn.SQL != sqlFile {
				continue
			}
			raw, err := pn.Query()
			if err != nil {
				t.Fatal(err)
			}
			sql, err := d.Render(raw, sel, dashboards.Request{From: p.From, To: p.To.Add(-time.Second), Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := conn.Query(context.Background(), sql)
			if err != nil {
				t.Fatalf("%s: %v", sqlFile, err)
			}
			defer rows.Close()
			cols := rows.Columns()
			var out []map[string]any
			for rows.Next() {
				vals := make([]any, len(cols))
				for i, ct := range rows.ColumnTypes() {
					vals[i] = newScan(ct.DatabaseTypeName())
				}
				if err := rows.Scan(vals...); err != nil {
					t.Fatalf("%s: %v", sqlFile, err)
				}
				row := map[string]any{}
				for i, c := range cols {
					row[c] = vals[i]
				}
				out = append(out, row)
			}
			if len(out) != 1 {
				t.Fatalf("%s for %s: %d rows, want 1", sqlFile, p, len(out))
			}
			return out[0]
		}
	}
	t.Fatalf("no panel %s/%s", uid, sqlFile)
	return nil
}

func newScan(typ string) any {
	switch typ {
	case "Float64":
		return new(float64)
	case "Nullable(Float64)":
		return new(*float64)
	case "UInt64":
		return new(uint64)
	case "String":
		return new(string)
	}
	return new(any)
}

// number returns a panel value as float64 (NaN for NULL).
func number(t *testing.T, row map[string]any, col string) float64 {
	t.Helper()
	switch v := row[col].(type) {
	case *float64:
		return *v
	case **float64:
		if *v == nil {
			return math.NaN()
		}
		return **v
	case *uint64:
		return float64(*v)
	}
	t.Fatalf("column %s: %T", col, row[col])
	return 0
}

func text(row map[string]any, col string) string {
	if s, ok := row[col].(*string); ok {
		return *s
	}
	return fmt.Sprint(row[col])
}

// same compares figures that must be one stored number (the brief shows
// win-rate differences in percentage points: scale 100).
func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

// TestSurfacesShowOneFigure (in package dashboards_test, where the panel
// rendering kit of the dashboards tests is at hand): the dashboards, the
// brief and impact demo show
// the same number for the same figure and period, because all three read
// the one computation in impact_stats. It runs the demo (the real
// pipeline: Kafka, ingest, transform) into a test database and, for the
// whole window and for the brief's quarter, reads every headline from the
// CISO dashboard's panel queries, from brief.Load and from the demo's
// summary. Then SLA compliance of a department and quarter must be one
// number on all four surfaces: impact_stats, the department dashboard, the
// scorecard and the brief.
func TestSurfacesShowOneFigure(t *testing.T) {
	t.Parallel()
	// A server of its own: the demo leaves a large, freshly merged database
	// whose DROP on a shared, busy 18.16 server can outlast the cleanup's
	// deadline; closing this server removes everything at once.
	srv := testenv.ClickHouseServer(t)
	cfg := srv.Config("impact")
	ctx := context.Background()
	if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	sum, err := demo.Run(ctx, demo.Options{Days: 240, Seed: 4, Out: t.TempDir(), ClickHouse: cfg, Now: time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	whole := brief.Period{From: sum.Start.AddDate(-3, 0, 0), To: sum.End}
	quarter := brief.Period{From: sum.Period.From, To: sum.Period.To}
	demoAll := map[string]demo.Headline{}
	for _, h := range sum.Headlines {
		demoAll[h.Metric+"/"+h.Dimension] = h
	}
	demoBrief := map[string]demo.BriefFigure{}
	for _, f := range sum.Brief {
		demoBrief[f.Title] = f
	}
	for _, c := range []struct {
		name   string
		p      brief.Period
		period string
	}{{"whole window", whole, "all"}, {"brief quarter", quarter, "2026-Q2"}} {
		t.Run(c.name, func(t *testing.T) {
			b, err := brief.Load(ctx, conn, c.p, brief.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			headline := map[string]brief.Figure{}
			for _, f := range b.Headlines {
				headline[f.Title] = f
			}
			win := panelRow(t, conn, dashboards.UIDCISO, "ciso/win_rate_diff.sql", nil, c.p)
			rev := panelRow(t, conn, dashboards.UIDCISO, "ciso/revenue.sql", nil, c.p)
			csat := panelRow(t, conn, dashboards.UIDCISO, "ciso/csat_change.sql", nil, c.p)
			gate := panelRow(t, conn, dashboards.UIDCISO, "ciso/gate_delay.sql", nil, c.p)
			for _, r := range []map[string]any{win, rev, csat, gate} {
				if got := text(r, "period_shown"); got != c.period {
					t.Errorf("dashboard shows period %s, want %s", got, c.period)
				}
			}
			adjusted, pooled := b.Confounding[1], b.Confounding[0]
			figures := []struct {
				name      string
				dashboard float64
				brief     float64 // in the unit the dashboard stores
				metric    string  // the demo headline's metric/dimension
				title     string  // the brief's headline title, in the demo's brief figures
				scale     float64
			}{
				{"adjusted win-rate difference", number(t, win, "adjusted_difference"), adjusted.Estimate / 100, "win_rate_diff_fast_minus_slow/stratified", adjusted.Title, 100},
				{"pooled win-rate difference", number(t, win, "pooled_difference_confounded_by_segment"), pooled.Estimate / 100, "win_rate_diff_fast_minus_slow/all", "", 100},
				{"revenue recorded lost", number(t, rev, "recorded_lost_to_security_usd"), b.RevenueLost.Estimate, "revenue_lost_security_usd/all", b.RevenueLost.Title, 1},
				{"revenue associated with slow reviews", number(t, rev, "associated_with_slow_reviews_usd"), b.RevenueAssociated.Estimate, "revenue_associated_slow_reviews_usd/stratified", b.RevenueAssociated.Title, 1},
				{"CSAT change", number(t, csat, "csat_change"), headline["CSAT change after security incidents"].Estimate, "csat_incident_drop/paired", "CSAT change after security incidents", 1},
				{"gate delay", number(t, gate, "delay_hours"), headline["Deployment delay when a security gate blocks"].Estimate, "gate_delay_hours/all", "Deployment delay when a security gate blocks", 1},
			}
			for _, f := range figures {
				if math.IsNaN(f.dashboard) {
					t.Errorf("%s: the dashboard shows no figure for %s (below the minimum n?): pick a larger organisation", f.name, c.period)
					continue
				}
				if !same(f.brief, f.dashboard) {
					t.Errorf("%s %s: dashboard %v, brief %v", c.period, f.name, f.dashboard, f.brief)
				}
				if c.period == "all" {
					h, ok := demoAll[f.metric]
					if !ok || h.Estimate == nil || !same(*h.Estimate, f.dashboard) || h.Period != "all" {
						t.Errorf("%s %s: dashboard %v, impact demo %+v", c.period, f.name, f.dashboard, h)
					}
				} else if f.title != "" {
					h, ok := demoBrief[f.title]
					if !ok || h.Estimate == nil || !same(*h.Estimate/f.scale, f.dashboard) || h.Period != c.period {
						t.Errorf("%s %s: dashboard %v, impact demo's brief %+v", c.period, f.name, f.dashboard, h)
					}
				}
			}
			if n := number(t, win, "n_deals"); int64(n) != adjusted.N {
				t.Errorf("adjusted difference n: dashboard %v, brief %d", n, adjusted.N)
			}
		})
	}

	t.Run("SLA compliance on four surfaces", func(t *testing.T) {
		b, err := brief.Load(ctx, conn, quarter, brief.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, row := range b.Scorecard {
			if math.IsNaN(row.SLACompliance) || row.Department == "(unassigned)" || row.Department == "(not in catalog)" {
				continue
			}
			dept := row.Department
			var stat float64
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT estimate, n FROM impact_stats WHERE metric = 'sla_compliance' AND dimension = 'department' AND dimension_value = ? AND period = '2026-Q2'", dept).Scan(&stat, &n); err != nil {
				t.Fatal(err)
			}
			var within, due uint64
			if err := conn.QueryRow(ctx, "SELECT sum(sla_within), sum(sla_within + sla_breached) FROM department_scorecard WHERE department = ? AND month >= toDate('2026-04-01') AND month < toDate('2026-07-01')", dept).Scan(&within, &due); err != nil {
				t.Fatal(err)
			}
			panel := panelRow(t, conn, dashboards.UIDDepartment, "department/sla_compliance.sql",
				map[string]dashboards.Selection{"department": dashboards.Select(dept), "team": dashboards.SelectAll}, quarter)
			score := float64(within) / float64(due)
			shown := number(t, panel, "compliance")
			if n < uint64(b.MinN) {
				shown = stat // below the minimum n the dashboard blanks it; the brief greys it
			}
			if !same(stat, score) || n != due || !same(shown, stat) || uint64(number(t, panel, "n_findings_due")) != n ||
				!same(row.SLACompliance, stat) || uint64(row.SLAN) != n {
				t.Errorf("%s 2026-Q2 SLA compliance: impact_stats %v (n %d), scorecard %d/%d, dashboard %v (n %v), brief %v (n %d)",
					dept, stat, n, within, due, shown, number(t, panel, "n_findings_due"), row.SLACompliance, row.SLAN)
			}
			t.Logf("%s 2026-Q2 SLA compliance %.4f of %d findings due on every surface", dept, stat, n)
			checked++
		}
		if checked == 0 {
			t.Fatal("no department had findings due in the quarter: the test proves nothing")
		}
	})
}
