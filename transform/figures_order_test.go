package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestStatsOrderInvariant: impact_stats is the same, bit for bit, whatever
// the order of the deployment, ticket and finding groups it reads and of
// the values in each group, so those reads carry no ORDER BY (queries.go;
// sorting cost a fifth of their server CPU). The per-row reads (deals,
// incidents, vendors, exceptions) stay ordered by id: sums over them in
// another order differ in the last bits.
func TestStatsOrderInvariant(t *testing.T) {
	t.Parallel()
	in := benchOrg(3, 0.02)
	o := StatsOptions{Changes: []Change{{Name: "automation", Date: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}}}
	want := computeStats(in, o)
	r := rand.New(rand.NewPCG(4, 5))
	shuffle := func(n int, swap func(i, j int)) { r.Shuffle(n, swap) }
	for round := range 3 {
		s := *in
		s.Deployments = shuffled(shuffle, in.Deployments)
		for i := range s.Deployments {
			s.Deployments[i].Lead = shuffled(shuffle, s.Deployments[i].Lead)
		}
		s.SecurityFix = shuffled(shuffle, in.SecurityFix)
		s.Tickets = shuffled(shuffle, in.Tickets)
		s.Findings = shuffled(shuffle, in.Findings)
		for i := range s.Findings {
			s.Findings[i].Days = shuffled(shuffle, s.Findings[i].Days)
		}
		requireSameStats(t, fmt.Sprintf("round %d, the groups in another order", round), computeStats(&s, o), want)
	}
}

func shuffled[T any](shuffle func(int, func(i, j int)), s []T) []T {
	out := append([]T(nil), s...)
	shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// requireSameStats fails t unless got and want have the same rows
// (sameStat).
func requireSameStats(t *testing.T, what string, got, want []Stat) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		if !sameStat(got[i], want[i]) {
			if bad++; bad <= 3 {
				t.Errorf("%s: row %d differs from the figures computed afresh:\n got %+v\nwant %+v", what, i, got[i], want[i])
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d rows differ in all", what, bad)
	}
}

// sameStat compares every field, floats by their bits (NaN equals NaN).
func sameStat(a, b Stat) bool {
	fa := []*float64{&a.Estimate, &a.Low, &a.High, &a.P, &a.PAdjusted, &a.NaiveLow, &a.NaiveHigh, &a.MDE}
	fb := []*float64{&b.Estimate, &b.Low, &b.High, &b.P, &b.PAdjusted, &b.NaiveLow, &b.NaiveHigh, &b.MDE}
	for i := range fa {
		x, y := *fa[i], *fb[i]
		if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
			return false
		}
		*fa[i], *fb[i] = 0, 0
	}
	return a == b
}

// TestStatsFamiliesNeedTheirParts: each family of figures gives the same
// rows from an input holding only the parts it declares as from the whole
// input, so it may start as soon as those are read (a refresh reads each
// part once its table is built); and the deployments' figures do not wait
// for dora_changes, which a refresh builds last.
func TestStatsFamiliesNeedTheirParts(t *testing.T) {
	whole := benchOrg(7, 0.01)
	keep := func(parts []statsPart) *statsInput {
		in := &statsInput{}
		for _, p := range parts {
			switch p {
			case partDeals:
				in.Deals = whole.Deals
			case partDeployments:
				in.Deployments = whole.Deployments
			case partSecurityFix:
				in.SecurityFix = whole.SecurityFix
			case partTickets:
				in.Tickets = whole.Tickets
			case partFindings:
				in.Findings = whole.Findings
			case partIncidents:
				in.Incidents = whole.Incidents
			case partCostOfRisk:
				in.CostOfRisk = whole.CostOfRisk
			case partVendors:
				in.Vendors = whole.Vendors
			case partExceptions:
				in.Exceptions = whole.Exceptions
			default:
				t.Fatalf("part %d is not handled by the test", p)
			}
		}
		return in
	}
	if !reflect.DeepEqual(keep(allParts()), whole) {
		t.Fatal("the test does not copy every part of statsInput")
	}
	o := StatsOptions{Changes: []Change{{Name: "automation", Date: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}}}
	gateFamily := -1
	for i, f := range statsFamilies {
		all, own := newComputer(o), newComputer(o)
		f.run(all, whole)
		f.run(own, keep(f.needs))
		if len(all.out) == 0 {
			t.Errorf("family %d gives no rows from the whole input", i)
		}
		// Compared as text: the rows hold NaNs (no p-value), which no
		// float comparison finds equal.
		if fmt.Sprint(all.out) != fmt.Sprint(own.out) {
			t.Errorf("family %d (needs %v) gives other rows from its own parts than from the whole input", i, f.needs)
		}
		for _, s := range all.out {
			if s.Metric == "gate_delay_hours" {
				gateFamily = i
			}
		}
	}
	if gateFamily < 0 {
		t.Fatal("no family gives gate_delay_hours")
	}
	if slices.Contains(statsFamilies[gateFamily].needs, partSecurityFix) {
		t.Errorf("the deployments' figures wait for dora_changes (needs %v)", statsFamilies[gateFamily].needs)
	}
}

// TestStatsGroupsSplit: a deployment group split in two (the same keys in
// two partitions of deployment_facts, which qDeploymentGroups groups by
// partition too, a cached partition's groups after those read) gives the
// same impact_stats, bit for bit, as the group whole.
func TestStatsGroupsSplit(t *testing.T) {
	t.Parallel()
	in := benchOrg(3, 0.02)
	want := computeStats(in, StatsOptions{})
	s := *in
	s.Deployments = nil
	var second []deployGroup
	for _, g := range in.Deployments {
		if g.N < 2 || len(g.Lead) < 2 {
			s.Deployments = append(s.Deployments, g)
			continue
		}
		a, b := g, g
		a.N, b.N = g.N/2, g.N-g.N/2
		h := min(len(g.Lead)/2, a.N)
		a.Lead, b.Lead = g.Lead[:h:h], g.Lead[h:]
		s.Deployments = append(s.Deployments, a)
		second = append(second, b)
	}
	if len(second) == 0 {
		t.Fatal("no group to split: the case did not happen")
	}
	s.Deployments = append(s.Deployments, second...)
	got := computeStats(&s, StatsOptions{})
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	bad := 0
	for i := range want {
		if !sameStat(got[i], want[i]) {
			if bad++; bad <= 5 {
				t.Errorf("row %d differs with the groups split:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
	}
}
