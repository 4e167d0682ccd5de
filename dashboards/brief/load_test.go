package brief

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/transform/stats"
)

// transformUnassigned is transform.Unassigned (not imported: the brief
// reads tables, not the transform).
const transformUnassigned = "(unassigned)"

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// TestLoad fills a database from a seeded simulation and checks what Load
// computes against the simulation's truth: over a period covering the whole
// window every count and sum must equal the truth exactly; quarters must
// partition it; every statement must also run on a current ClickHouse.
func TestLoad(t *testing.T) {
	s := pipelinetest.Load(t, simulate.Options{Seed: 11, Days: 200})
	ctx := context.Background()
	truth := s.Truth
	// No event is older than the legacy finding backlog's years or newer than End.
	whole := Period{From: truth.Start.AddDate(-3, 0, 0), To: truth.End.AddDate(0, 0, 1)}
	d, err := Load(ctx, s.Conn, whole, LoadOptions{Now: truth.End})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("whole window equals the truth", func(t *testing.T) {
		if len(d.WinRateByBucket) != len(simulate.Buckets) {
			t.Fatalf("%d buckets, want %d", len(d.WinRateByBucket), len(simulate.Buckets))
		}
		for i, b := range simulate.Buckets {
			got, want := d.WinRateByBucket[i], truth.Deals.ByLandmarkBucket[b]
			if got.Label != b || got.N != int64(want.N) || (want.N > 0 && !got.Muted && !near(got.Value, 100*want.WinRate)) {
				t.Errorf("bucket %s: got %s n=%d %.6f%%, want n=%d %.6f%%", b, got.Label, got.N, got.Value, want.N, 100*want.WinRate)
			}
			if want.N > 0 && !(got.Low <= got.Value && got.Value <= got.High) {
				t.Errorf("bucket %s: interval %.2f..%.2f does not hold %.2f", b, got.Low, got.High, got.Value)
			}
		}
		if !near(d.RevenueLost.Estimate, truth.Deals.RevenueLostSecurityUSD) || d.RevenueLost.N != int64(truth.Deals.LostSecurity) {
			t.Errorf("revenue lost: got %v in %d deals, want %v in %d", d.RevenueLost.Estimate, d.RevenueLost.N, truth.Deals.RevenueLostSecurityUSD, truth.Deals.LostSecurity)
		}
		if len(d.Confounding) != 2 || !strings.Contains(d.Confounding[0].Title, "confounded by segment") {
			t.Fatalf("confounding rows: %+v", d.Confounding)
		}
		if !near(d.Confounding[0].Estimate, 100*truth.Deals.FastMinusSlowPooled) {
			t.Errorf("pooled fast-slow: got %v pp, want %v", d.Confounding[0].Estimate, 100*truth.Deals.FastMinusSlowPooled)
		}
		// The stratified figure uses the segments with the minimum n fast
		// and slow deals: the truth's Mantel-Haenszel over those.
		var strata []stats.Stratum
		for _, seg := range simulate.Segments {
			f, sl := truth.Deals.BySegmentLandmarkBucket[seg]["fast"], truth.Deals.BySegmentLandmarkBucket[seg]["slow"]
			if f.N >= stats.DefaultMinN && sl.N >= stats.DefaultMinN {
				strata = append(strata, stats.Stratum{X1: f.Won, N1: f.N, X0: sl.Won, N0: sl.N})
			}
		}
		if want := stats.MantelHaenszelRD(strata, 0.95).Value; !near(d.Confounding[1].Estimate, 100*want) {
			t.Errorf("stratified fast-slow: got %v pp, want %v", d.Confounding[1].Estimate, 100*want)
		}
		if d.Headlines[0].Title != d.Confounding[1].Title || d.Headlines[0].Cluster != "account" || math.IsNaN(d.Headlines[0].NaiveLow) {
			t.Errorf("the first headline is not the adjusted, account-clustered difference: %+v", d.Headlines[0])
		}
		// CSAT bars: the affected accounts' own baseline, then after incidents.
		for i, want := range []simulate.Mean{truth.Tickets.CSATAffectedBaseline, truth.Tickets.CSATAfterIncident} {
			got := d.CSAT[i]
			if got.N != int64(want.N) || !near(got.Value, want.Mean) {
				t.Errorf("CSAT %s: got n=%d mean %v, want n=%d mean %v", got.Label, got.N, got.Value, want.N, want.Mean)
			}
		}
		if d.GateLeadTime[1].Value <= d.GateLeadTime[0].Value {
			t.Errorf("blocked median lead time %v not above unblocked %v (planted delay %vh)", d.GateLeadTime[1].Value, d.GateLeadTime[0].Value, truth.Params.GateDelayHours)
		}
		got := map[string]ScorecardRow{}
		for _, r := range d.Scorecard {
			got[r.Department] = r
		}
		for dep, want := range truth.Departments {
			r := got[dep]
			if !near(r.IncidentCostUSD, want.IncidentCostUSD) || !near(r.ControlSpendUSD, want.VendorAssessmentCostUSD+want.VendorMonitoringCostUSD) {
				t.Errorf("%s: incident cost %v, control spend %v; want %v, %v", dep, r.IncidentCostUSD, r.ControlSpendUSD,
					want.IncidentCostUSD, want.VendorAssessmentCostUSD+want.VendorMonitoringCostUSD)
			}
			if r.OpenExceptions != int64(want.PolicyExceptionsOpen) {
				t.Errorf("%s open exceptions at the end: got %d, want %d", dep, r.OpenExceptions, want.PolicyExceptionsOpen)
			}
		}
		if truth.Incidents.UnattributedCostUSD > 0 && !near(got[transformUnassigned].IncidentCostUSD, truth.Incidents.UnattributedCostUSD) {
			t.Errorf("unassigned incident cost %v, truth %v", got[transformUnassigned].IncidentCostUSD, truth.Incidents.UnattributedCostUSD)
		}
		// Every headline carries n, an evidence level and "associated with"
		// wording where it states a comparison.
		for _, f := range d.Headlines {
			if f.Evidence == "" || f.Method == "" || f.Period != "all" {
				t.Errorf("headline %q lacks evidence or method, or is not the all period: %+v", f.Title, f)
			}
			if f.Unit != "USD" && !f.Suppressed && !strings.Contains(f.Wording, "associated with") {
				t.Errorf("headline %q wording %q does not say \"associated with\"", f.Title, f.Wording)
			}
			for _, bad := range []string{"caused", "drove", "because of"} {
				if strings.Contains(strings.ToLower(f.Wording), bad) {
					t.Errorf("headline %q uses causal wording %q", f.Title, bad)
				}
			}
		}
	})

	t.Run("quarters partition the window", func(t *testing.T) {
		first := LastFullQuarter(truth.Start.AddDate(0, 3, 0)) // the quarter holding Start
		var sumN [5]int64
		var lost float64
		var lostN int64
		cost := map[string]float64{}
		for p := first; p.From.Before(truth.End.AddDate(0, 0, 1)); p = (Period{From: p.To, To: p.To.AddDate(0, 3, 0)}) {
			q, err := Load(ctx, s.Conn, p, LoadOptions{Now: truth.End})
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range q.WinRateByBucket {
				sumN[i] += b.N
			}
			lost += q.RevenueLost.Estimate
			lostN += q.RevenueLost.N
			for _, r := range q.Scorecard {
				cost[r.Department] += r.IncidentCostUSD + r.ControlSpendUSD
			}
			if want := p.From.Format("2006") + "-Q" + strconv.Itoa(int(p.From.Month()-1)/3+1); len(q.Periods) > 0 && (len(q.Periods) != 1 || q.Periods[0] != want) {
				t.Errorf("quarter %s: figures from stored periods %v, want that quarter alone", p, q.Periods) // (none before the data)
			}
		}
		for i, b := range d.WinRateByBucket {
			if sumN[i] != b.N {
				t.Errorf("bucket %s: quarters sum to %d deals, whole window %d", b.Label, sumN[i], b.N)
			}
		}
		if lostN != d.RevenueLost.N || !near(lost, d.RevenueLost.Estimate) {
			t.Errorf("revenue lost: quarters sum to %v in %d deals, whole window %v in %d", lost, lostN, d.RevenueLost.Estimate, d.RevenueLost.N)
		}
		for _, r := range d.Scorecard {
			if !near(cost[r.Department], r.IncidentCostUSD+r.ControlSpendUSD) {
				t.Errorf("%s incident cost and control spend: quarters sum to %v, whole window %v", r.Department, cost[r.Department], r.IncidentCostUSD+r.ControlSpendUSD)
			}
		}
	})

	t.Run("default period", func(t *testing.T) {
		for _, c := range []struct {
			now  time.Time
			want Period
		}{
			// Data as of End (2026-07-01 by default): the brief of a later
			// "now" covers the last quarter with data.
			{time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC), LastFullQuarter(truth.End)},
			// A "now" before the data's as-of time wins.
			{truth.End.AddDate(0, -4, 0), LastFullQuarter(truth.End.AddDate(0, -4, 0))},
		} {
			got, err := DefaultPeriod(ctx, s.Conn, c.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("now %s: got %s, want %s", c.now.Format(time.DateOnly), got, c.want)
			}
		}
	})

	t.Run("chdb current ClickHouse", func(t *testing.T) {
		stmts, err := pipelinetest.ShowCreateTables(ctx, s.Conn, s.DB())
		if err != nil {
			t.Fatal(err)
		}
		q, err := Statements(LastFullQuarter(truth.End))
		if err != nil {
			t.Fatal(err)
		}
		r := sqlcheck.RunChDB(t, append(stmts, q...))
		t.Logf("chdb ClickHouse %s ran %d statements", r.Version, len(stmts)+len(q))
	})

	t.Run("a department the scorecard does not know is refused", func(t *testing.T) {
		_, err := Load(ctx, s.Conn, whole, LoadOptions{Now: truth.End, Department: "Enginering"})
		if !errors.Is(err, ErrUnknownDepartment) || !strings.Contains(err.Error(), "Engineering") {
			t.Errorf("Load with a misspelt department: %v, want ErrUnknownDepartment naming the known ones", err)
		}
		if _, err := Load(ctx, s.Conn, whole, LoadOptions{Now: truth.End, Department: "Engineering"}); err != nil {
			t.Errorf("Load of a known department: %v", err)
		}
	})
}

func TestLastFullQuarter(t *testing.T) {
	for _, c := range []struct {
		at, from, to string
	}{
		{"2026-07-01T00:00:00Z", "2026-04-01", "2026-07-01"},
		{"2026-06-30T23:59:59Z", "2026-01-01", "2026-04-01"},
		{"2026-01-10T00:00:00Z", "2025-10-01", "2026-01-01"},
		{"2026-11-28T12:00:00Z", "2026-07-01", "2026-10-01"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		p := LastFullQuarter(at)
		if got := p.From.Format(time.DateOnly) + " " + p.To.Format(time.DateOnly); got != c.from+" "+c.to {
			t.Errorf("LastFullQuarter(%s) = %s, want %s %s", c.at, got, c.from, c.to)
		}
	}
}
