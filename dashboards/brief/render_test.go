package brief

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// sampleData is a small hand-built brief used by the render and browser tests.
func sampleData() Data {
	nan := math.NaN()
	return Data{
		Organisation: "Example Corp",
		From:         time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
		To:           time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		GeneratedAt:  time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC),
		MinN:         30,
		Headlines: []Figure{
			{Title: "Win-rate difference, fast vs slow reviews", Estimate: 14.2, Low: 6.1, High: 21.9, N: 812, Unit: "pp", Method: "Newcombe, stratified by segment", Evidence: "adjusted", Wording: "Fast security reviews are associated with a higher win rate."},
			{Title: "Revenue lost to security reasons", Estimate: 1.25e6, Low: nan, High: nan, N: 17, Unit: "USD", Method: "sum", Evidence: "descriptive"},
			{Title: "CSAT after incidents", Estimate: -0.58, Low: -0.8, High: -0.35, N: 240, Unit: "points", Method: "paired difference", Evidence: "quasi_experiment"},
			{Title: "Vendor review cycle", N: 4, Unit: "days", Method: "median", Evidence: "insufficient", Suppressed: true, Low: nan, High: nan},
		},
		WinRateByBucket: []Bar{
			{Label: "none", Value: 41, Low: 37, High: 45, N: 520, HasRange: true},
			{Label: "fast", Value: 44, Low: 38, High: 50, N: 260, HasRange: true},
			{Label: "medium", Value: 36, Low: 30, High: 42, N: 230, HasRange: true},
			{Label: "slow", Value: 29, Low: 23, High: 36, N: 190, HasRange: true},
			{Label: "incomplete", Value: 20, Low: 8, High: 41, N: 20, HasRange: true, Muted: true},
		},
		RevenueLost:  Figure{Estimate: 1.25e6, N: 17},
		CSAT:         []Bar{{Label: "baseline", Value: 4.2, Low: 4.1, High: 4.3, N: 900, HasRange: true}, {Label: "after incident", Value: 3.6, Low: 3.4, High: 3.8, N: 240, HasRange: true}},
		GateLeadTime: []Bar{{Label: "not blocked", Value: 20, N: 3000}, {Label: "blocked", Value: 38, N: 300}},
		IncidentCost: []Bar{{Label: "Engineering", Value: 400000}, {Label: "Marketing", Value: 100000}, {Label: "(unassigned)", Value: 90000}},
		ControlSpend: []Bar{{Label: "Engineering", Value: 20000}, {Label: "Marketing", Value: 30000}, {Label: "(unassigned)", Value: 0}},
		Scorecard: []ScorecardRow{
			{Department: "Engineering", OpenCritical: 3, OpenHigh: 27, SLACompliance: 0.81, SLAN: 120, SecurityDebt: 4, GateBlockRate: 0.07, Deployments: 900, OpenExceptions: 1,
				IncidentCostUSD: 400000, ControlSpendUSD: 20000, IncidentsCostUnknown: 2},
			{Department: "Marketing", SLACompliance: nan, GateBlockRate: nan, OpenExceptions: 5, IncidentCostUSD: 100000, ControlSpendUSD: 30000},
		},
		Confounding: []Figure{
			{Title: "pooled (all segments together): confounded by segment", Estimate: 19.8, Low: 14.2, High: 25.3, N: 450, Unit: "pp", Method: "difference, account-clustered t interval"},
			{Title: "within segments", Estimate: 14.2, Low: 6.1, High: 21.9, N: 450, Unit: "pp", Method: "Mantel-Haenszel by segment, account-clustered t interval"},
		},
		Periods: []string{"2026-Q3"},
	}
}

func TestRenderSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, sampleData()); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		"<svg", "Win rate by security-review turnaround", "14.2 pp", "95% CI 6.10 to 21.9 pp",
		"$1.25M", "n too small", "Engineering", "81% (120)", "Associated with", "confounded by segment", "+2 unknown", "stored period 2026-Q3",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("brief lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != 5 {
		t.Errorf("brief has %d charts, want 5", n)
	}
	// Self-contained: nothing fetched from anywhere.
	for _, bad := range []string{"http://", "https://", "<script", "<link", "@import", "src="} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) &&
			!strings.Contains(bad, "http") {
			t.Errorf("brief is not self-contained: contains %q", bad)
		}
	}
	for _, line := range strings.Split(html, "\n") {
		if strings.Contains(line, "http") && !strings.Contains(line, "www.w3.org") {
			t.Errorf("brief refers to the network: %s", strings.TrimSpace(line))
		}
	}
}

// TestRenderNoData renders a period without any data (every figure NaN):
// the charts draw no bars instead of hanging on a NaN axis range.
func TestRenderNoData(t *testing.T) {
	nan := math.NaN()
	d := sampleData()
	for _, bars := range []*[]Bar{&d.WinRateByBucket, &d.CSAT, &d.GateLeadTime, &d.IncidentCost, &d.ControlSpend} {
		for i := range *bars {
			(*bars)[i].Value, (*bars)[i].Low, (*bars)[i].High = nan, nan, nan
		}
	}
	done := make(chan error, 1)
	go func() { done <- Render(io.Discard, d) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Render did not finish with NaN figures")
	}
}
