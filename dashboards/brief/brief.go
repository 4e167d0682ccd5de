// Package brief writes the executive brief: one self-contained HTML file a
// CISO can open without network and print to PDF, with the quarter's
// headline figures (each with n, interval and evidence level), charts
// rendered server-side as inline SVG, the department scorecard and a plain
// language methods section.
package brief

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// Figure is one headline number with its uncertainty and provenance.
type Figure struct {
	Title      string
	Estimate   float64
	Low, High  float64 // 95% interval; NaN when there is none
	N          int64
	Unit       string // "pp", "%", "USD", "h", "points", "days"
	Method     string
	Evidence   string // descriptive | adjusted | quasi_experiment | experiment | insufficient
	Wording    string // the sentence, "associated with" not "drove"
	Suppressed bool   // below the minimum n: shown greyed, no estimate
	// Period is the stored impact_stats period the figure is (2026-Q2,
	// all, ...); Cluster what its interval treats as the unit (account,
	// service; empty: observations independent), NaiveLow/NaiveHigh the
	// interval assuming independence (NaN: none), MDE the minimum
	// detectable effect at 80% power (NaN: none), Note what to know.
	Period              string
	Cluster             string
	NaiveLow, NaiveHigh float64
	MDE                 float64
	Note                string
}

// ScorecardRow is one department's line of the scorecard table.
type ScorecardRow struct {
	Department     string
	Month          string // the department version's rows: YYYY-MM-DD of the month
	OpenCritical   int64
	OpenHigh       int64
	SLACompliance  float64 // share 0..1 of the findings due in the period; NaN when none was
	SLAN           int64   // findings due (the n of SLACompliance)
	SLAMuted       bool    // SLAN below the minimum n
	SecurityDebt   int64
	GateBlockRate  float64 // share 0..1; NaN when no deployments
	Deployments    int64   // the n of GateBlockRate
	GateMuted      bool
	OpenExceptions int64
	// Incident cost and control spend, apart; CostOfRiskUSD is their sum
	// (the scorecard's cost_of_risk_usd), not shown as one figure.
	IncidentCostUSD      float64
	ControlSpendUSD      float64
	IncidentsCostUnknown int64 // incidents whose cost is not known yet
	CostOfRiskUSD        float64
}

// TrendRow is one quarter of the trend table.
type TrendRow struct {
	Quarter string
	Start   time.Time
	WinRate Figure // adjusted fast-minus-slow difference
	CSAT    Figure // within-account CSAT change
}

// Data is everything the brief shows. Load fills it from the analyst
// tables; tests may build it by hand.
type Data struct {
	Organisation string
	From, To     time.Time // the period, To exclusive
	GeneratedAt  time.Time
	MinN         int64

	Headlines []Figure

	WinRateByBucket   []Bar    // won/closed per landmark review bucket, Wilson interval
	Confounding       []Figure // pooled (confounded by segment) and adjusted win-rate difference
	Segments          []Figure // the difference within each segment
	RevenueLost       Figure   // what sales recorded as lost to security
	RevenueAssociated Figure   // adjusted difference x slow-review pipeline
	CSAT              []Bar    // baseline vs within 30 days after an incident
	GateLeadTime      []Bar    // median lead time, blocked vs not (like with like)
	IncidentCost      []Bar    // per department, apart from...
	ControlSpend      []Bar    // ...control spend per department
	Scorecard         []ScorecardRow
	Trend             []TrendRow // quarters up to the period's end
	Changes           []Figure   // difference-in-differences of named process changes
	// Periods are the stored impact_stats periods the figures came from
	// (one when the brief's period is a stored month, quarter or year).
	Periods []string

	// Department is set for a department's one-page version.
	Department string
	// Comparison, when set, shows each headline figure beside the same
	// figure of an earlier period and the change, with its interval.
	Comparison *Comparison
}

//go:embed brief.html.tmpl
var pageTemplate string

var page = template.Must(template.New("brief").Funcs(template.FuncMap{
	"num":      formatNumber,
	"pct":      formatShare,
	"usd":      formatUSD,
	"interval": formatInterval,
	"naive":    formatNaive,
	"p":        formatP,
	"join":     strings.Join,
	"change":   formatChange,
	"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"lastday":  func(t time.Time) string { return t.UTC().Add(-time.Second).Format("2 Jan 2006") },
}).Parse(pageTemplate))

// charts are the company brief's charts, rendered as inline SVG.
type charts struct {
	WinRate, CSAT, Gate, Incidents, Controls template.HTML
}

func companyCharts(d Data) (charts, error) {
	var c charts
	var err error
	if c.WinRate, err = barChart("Win rate by security-review turnaround", "win rate (%)", d.WinRateByBucket, false); err != nil {
		return c, err
	}
	if c.CSAT, err = barChart("CSAT: own baseline vs 30 days after an incident", "mean CSAT (1-5)", d.CSAT, false); err != nil {
		return c, err
	}
	if c.Gate, err = barChart("Deployment lead time, gate-blocked vs not", "median lead time (hours)", d.GateLeadTime, false); err != nil {
		return c, err
	}
	if c.Incidents, err = barChart("Incident cost by department", "USD", d.IncidentCost, true); err != nil {
		return c, err
	}
	if c.Controls, err = barChart("Control spend by department", "USD", d.ControlSpend, true); err != nil {
		return c, err
	}
	return c, nil
}

// Render writes the brief as one HTML document: the company brief, or a
// department's one-page version (Data.Department, no company charts).
func Render(w io.Writer, d Data) error {
	var c charts
	if d.Department == "" {
		var err error
		if c, err = companyCharts(d); err != nil {
			return err
		}
	}
	if err := page.Execute(w, struct {
		Data
		Charts charts
	}{d, c}); err != nil {
		return fmt.Errorf("render brief: %w", err)
	}
	return nil
}

func formatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func formatShare(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func formatUSD(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	neg := v < 0
	v = math.Abs(v)
	var s string
	switch {
	case v >= 1e6:
		s = fmt.Sprintf("$%.2fM", v/1e6)
	case v >= 1e3:
		s = fmt.Sprintf("$%.0fk", v/1e3)
	default:
		s = fmt.Sprintf("$%.0f", v)
	}
	if neg {
		s = "−" + s
	}
	return s
}

// formatNaive is the independence interval beside a clustered one.
func formatNaive(f Figure) string {
	if f.Cluster == "" || math.IsNaN(f.NaiveLow) || math.IsNaN(f.NaiveHigh) {
		return ""
	}
	lo, hi := formatNumber(f.NaiveLow), formatNumber(f.NaiveHigh)
	if f.Unit == "USD" {
		lo, hi = formatUSD(f.NaiveLow), formatUSD(f.NaiveHigh)
	}
	return "clustered by " + f.Cluster + "; treating each observation as independent would give " + lo + " to " + hi
}

func formatP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "–"
	case p < 0.001:
		return "< 0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func formatInterval(f Figure) string {
	if math.IsNaN(f.Low) || math.IsNaN(f.High) {
		return "no interval"
	}
	if f.Unit == "USD" {
		return "95% CI " + formatUSD(f.Low) + " to " + formatUSD(f.High)
	}
	return "95% CI " + formatNumber(f.Low) + " to " + formatNumber(f.High) + " " + f.Unit
}

// formatChange writes a period-over-period change with its sign, unit and
// interval.
func formatChange(c Change) string {
	if math.IsNaN(c.Change) {
		return "–"
	}
	sign := func(v float64, s string) string {
		if v > 0 {
			return "+" + s
		}
		return s
	}
	if c.Unit == "USD" {
		return sign(c.Change, formatUSD(c.Change))
	}
	unit := c.Unit
	if unit == "%" {
		unit = "pp" // a change of a percentage is in percentage points
	}
	out := sign(c.Change, formatNumber(c.Change)) + " " + unit
	if !math.IsNaN(c.Low) {
		out += " (95% CI " + formatNumber(c.Low) + " to " + formatNumber(c.High) + ")"
	}
	return out
}
