package transform

import (
	"math"
	"math/rand/v2"
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
		got := computeStats(&s, o)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d rows, want %d", round, len(got), len(want))
		}
		bad := 0
		for i := range want {
			if !sameStat(got[i], want[i]) {
				if bad++; bad <= 5 {
					t.Errorf("round %d: row %d differs with the groups in another order:\n got %+v\nwant %+v", round, i, got[i], want[i])
				}
			}
		}
		if bad > 5 {
			t.Errorf("round %d: %d rows differ in all", round, bad)
		}
	}
}

func shuffled[T any](shuffle func(int, func(i, j int)), s []T) []T {
	out := append([]T(nil), s...)
	shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
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
