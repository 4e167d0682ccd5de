package transform

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// benchOrg builds a statsInput shaped like the one impact bench transform
// reads at about scale x 10 million events (at scale 1: some 425,000
// deals, 1.1 million deployments and 1.4 million findings in groups,
// 830,000 tickets in groups, over three years), so the benchmark measures
// the computation a refresh does at that size.
func benchOrg(seed uint64, scale float64) *statsInput {
	r := rand.New(rand.NewPCG(seed, 12))
	n := func(x float64) int { return max(1, int(x*scale)) }
	monthAt := func(k int) month { return month(202401 + k/12*100 + k%12) }
	in := &statsInput{}
	segs := []string{"smb", "mid_market", "enterprise"}
	reviews := []string{"none", "fast", "medium", "slow", "incomplete"}
	accounts := n(20000)
	for range n(425000) {
		a := r.IntN(accounts)
		d := dealRow{Account: fmt.Sprintf("acct-%05d", a), Segment: segs[a%3], Bucket: reviews[r.IntN(5)],
			Cycle: 5 + 90*r.Float64(), Amount: float64(1000 * (1 + r.IntN(300))), Month: monthAt(r.IntN(36)), ReviewRequired: r.IntN(3) > 0}
		d.ReviewBucket = d.Bucket
		if d.Bucket != "none" {
			t := math.Round(30*r.ExpFloat64()*1440) / 1440 // minutes, as days
			d.HasTurnaround, d.Turnaround = true, t
		}
		d.Won = r.Float64() < 0.3+0.1*float64(a%3)
		d.Outcome = "lost"
		if d.Won {
			d.Outcome = "won"
		} else if r.IntN(5) == 0 {
			d.Loss = "security"
		}
		in.Deals = append(in.Deals, d)
	}
	depts := []string{"engineering", "sales", "support", "finance", "marketing", "it", "legal", "hr"}
	envs := []string{"production", "staging", "dev"}
	statuses := []string{"success", "success", "success", "failure"}
	services := n(400)
	for s := range services {
		dept := depts[s%len(depts)]
		team := fmt.Sprintf("%s-team-%d", dept, s%7)
		for range n(300) {
			g := deployGroup{Service: fmt.Sprintf("svc-%03d", s), Department: dept, Team: team, Environment: envs[r.IntN(3)],
				Status: statuses[r.IntN(4)], Blocked: r.IntN(4) == 0, Month: monthAt(r.IntN(36))}
			g.Waived = g.Blocked && r.IntN(3) == 0
			g.N = 1 + r.IntN(17)
			for range g.N {
				g.Lead = append(g.Lead, math.Round(20*r.ExpFloat64()*3600)/3600) // seconds, as hours
			}
			in.Deployments = append(in.Deployments, g)
		}
	}
	for range n(20000) {
		in.SecurityFix = append(in.SecurityFix, fixLead{Month: monthAt(r.IntN(36)), Hours: math.Round(100*r.ExpFloat64()*3600) / 3600})
	}
	for range n(300000) {
		g := ticketGroup{Account: fmt.Sprintf("acct-%05d", r.IntN(accounts)), Month: monthAt(r.IntN(36)), After: r.IntN(5) == 0,
			Security: r.IntN(10) == 0, Rated: r.IntN(2) == 0, AffectedAcct: r.IntN(3) == 0, N: 1 + r.IntN(4)}
		if g.Rated {
			g.CSAT = uint8(1 + r.IntN(5))
		}
		in.Tickets = append(in.Tickets, g)
	}
	sevs := []string{"critical", "high", "medium", "low"}
	fstatus := []string{"fixed", "fixed", "open", "dismissed"}
	for range n(120000) {
		dept := depts[r.IntN(len(depts))]
		g := findingGroup{Team: fmt.Sprintf("%s-team-%d", dept, r.IntN(7)), Department: dept, Severity: sevs[r.IntN(4)], Status: fstatus[r.IntN(4)],
			Within: uint8(r.IntN(3)), Debt: r.IntN(20) == 0, Detected: monthAt(r.IntN(36)), N: 1 + r.IntN(22)}
		if g.Within != 2 {
			g.Cohort = monthAt(r.IntN(36))
		}
		for range g.N {
			g.Days = append(g.Days, float64(r.IntN(400*86400))/86400)
		}
		in.Findings = append(in.Findings, g)
	}
	for i := range n(3000) {
		cost := float64(r.IntN(1e6))
		in.Incidents = append(in.Incidents, incidentRow{ID: fmt.Sprintf("inc-%d", i), Month: monthAt(r.IntN(36)), Departments: depts[:r.IntN(3)], Cost: &cost})
	}
	for _, d := range depts {
		in.CostOfRisk = append(in.CostOfRisk, costRow{Department: d, USD: float64(r.IntN(1e7)), Incidents: r.IntN(100)})
		in.Exceptions = append(in.Exceptions, exceptionRow{Department: d, Days: float64(r.IntN(300)), Resolved: r.IntN(2) == 0})
		cycle := float64(r.IntN(60))
		in.Vendors = append(in.Vendors, vendorRow{Department: d, Month: monthAt(r.IntN(36)), Assessment: 5000, Monitoring: 1000, Cycle: &cycle})
	}
	return in
}

// BenchmarkComputeStats: impact_stats' computation alone (no database)
// on an organisation the size of the 10-million-event benchmark.
func BenchmarkComputeStats(b *testing.B) {
	in := benchOrg(1, 1)
	o := StatsOptions{}
	b.ReportAllocs()
	for b.Loop() {
		computeStats(in, o)
	}
}

// BenchmarkComputeStatsIncremental: impact_stats' computation after an
// incremental refresh that closed 1% more deals and added 1% more
// deployments in the latest month, with the rows of the last computation
// (figureMemo, Options.Cache) for the periods that did not change.
func BenchmarkComputeStatsIncremental(b *testing.B) {
	in := benchOrg(1, 1)
	o := StatsOptions{}
	last := nextMemo(nil)
	if _, err := runFamilies(b.Context(), in, o, last, func(context.Context, []statsPart) error { return nil }); err != nil {
		b.Fatal(err)
	}
	next := *in
	hi := lastMonth(in)
	next.Deals = slices.Clone(in.Deals)
	for _, d := range in.Deals[:len(in.Deals)/100] {
		d.Month = hi
		next.Deals = append(next.Deals, d)
	}
	next.Deployments = slices.Clone(in.Deployments)
	for _, g := range in.Deployments[:len(in.Deployments)/100] {
		g.Month = hi
		next.Deployments = append(next.Deployments, g)
	}
	b.ReportAllocs()
	for b.Loop() {
		m := nextMemo(last)
		if _, err := runFamilies(b.Context(), &next, o, m, func(context.Context, []statsPart) error { return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.Hits()), "periods_reused")
	}
}
