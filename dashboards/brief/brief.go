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
}

// ScorecardRow is one department's line of the scorecard table.
type ScorecardRow struct {
	Department         string
	OpenCritical       int64
	OpenHigh           int64
	SLACompliance      float64 // share 0..1; NaN when nothing was due
	SecurityDebt       int64
	GateBlockRate      float64 // share 0..1; NaN when no gate evaluations
	OpenExceptions     int64
	CostOfRiskUSD      float64
	IncidentCostUSD    float64
	VendorCostUSD      float64
	RemediationCostUSD float64
}

// Data is everything the brief shows. Load fills it from the analyst
// tables; tests may build it by hand.
type Data struct {
	Organisation string
	From, To     time.Time // the period, To exclusive
	GeneratedAt  time.Time
	MinN         int64

	Headlines []Figure

	WinRateByBucket []Bar // won/closed per review bucket, Wilson interval
	WinRateNote     string
	RevenueLost     Figure // closed-lost deals with loss_reason = security
	CSAT            []Bar  // baseline vs within 30 days after an incident
	GateLeadTime    []Bar  // median lead time, blocked vs not
	CostOfRisk      []Bar  // per department
	Scorecard       []ScorecardRow
	Confounding     []Figure // pooled vs stratified win-rate difference
}

//go:embed brief.html.tmpl
var pageTemplate string

var page = template.Must(template.New("brief").Funcs(template.FuncMap{
	"num":      formatNumber,
	"pct":      formatShare,
	"usd":      formatUSD,
	"interval": formatInterval,
	"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"lastday":  func(t time.Time) string { return t.UTC().Add(-time.Second).Format("2 Jan 2006") },
}).Parse(pageTemplate))

// Render writes the brief as one HTML document.
func Render(w io.Writer, d Data) error {
	charts := struct {
		WinRate, CSAT, Gate, Cost template.HTML
	}{}
	var err error
	if charts.WinRate, err = barChart("Win rate by security-review turnaround", "win rate (%)", d.WinRateByBucket, false); err != nil {
		return err
	}
	if charts.CSAT, err = barChart("CSAT: own baseline vs 30 days after an incident", "mean CSAT (1-5)", d.CSAT, false); err != nil {
		return err
	}
	if charts.Gate, err = barChart("Deployment lead time, gate-blocked vs not", "median lead time (hours)", d.GateLeadTime, false); err != nil {
		return err
	}
	if charts.Cost, err = barChart("Cost of risk by department", "USD", d.CostOfRisk, true); err != nil {
		return err
	}
	if err := page.Execute(w, struct {
		Data
		Charts any
	}{d, charts}); err != nil {
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

func formatInterval(f Figure) string {
	if math.IsNaN(f.Low) || math.IsNaN(f.High) {
		return "no interval"
	}
	if f.Unit == "USD" {
		return "95% CI " + formatUSD(f.Low) + " to " + formatUSD(f.High)
	}
	return "95% CI " + formatNumber(f.Low) + " to " + formatNumber(f.High) + " " + f.Unit
}
