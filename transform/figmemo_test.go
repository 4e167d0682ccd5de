package transform

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// memoStats computes the figures of in reusing the rows memo last holds
// (nil: none), and returns them with the computation's memo.
func memoStats(t *testing.T, in *statsInput, o StatsOptions, last *figureMemo) ([]Stat, *figureMemo) {
	t.Helper()
	m := nextMemo(last)
	out, err := runFamilies(context.Background(), in, o, m, func(context.Context, []statsPart) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

// lastMonth is the latest month of the input's deals.
func lastMonth(in *statsInput) month {
	var hi month
	for _, d := range in.Deals {
		hi = max(hi, d.Month)
	}
	return hi
}

// TestFigureMemoIncremental: the figures computed with the rows of the
// last computation reused for the periods whose input did not change are
// those computed afresh, bit for bit, after the changes an incremental
// refresh brings: new deals and deployments in the latest month, the
// groups in another order (the server and the cache give them unordered),
// and a new account that sorts before every other (every account's number
// moves, the clusters of an unchanged period do not). Most periods are
// reused.
func TestFigureMemoIncremental(t *testing.T) {
	t.Parallel()
	in := benchOrg(7, 0.02)
	o := StatsOptions{Changes: []Change{{Name: "automation", Date: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}}}
	first, m1 := memoStats(t, in, o, nil)
	requireSameStats(t, "first computation", first, computeStats(in, o))
	if m1.Hits() != 0 {
		t.Fatalf("an empty memo reused %d periods", m1.Hits())
	}

	next := *in
	hi := lastMonth(in)
	next.Deals = slices.Clone(in.Deals)
	for i := range 40 {
		d := in.Deals[i]
		d.Month, d.Account = hi, "aaa-new-account"
		if i%2 == 0 {
			d.Account = in.Deals[i+1].Account
		}
		next.Deals = append(next.Deals, d)
	}
	next.Deployments = slices.Clone(in.Deployments)
	for i := range 30 {
		g := in.Deployments[i]
		g.Month, g.Lead = hi, slices.Clone(g.Lead)
		g.Lead[0] += 1.5
		next.Deployments = append(next.Deployments, g)
	}
	r := rand.New(rand.NewPCG(8, 9))
	r.Shuffle(len(next.Deployments), func(i, j int) {
		next.Deployments[i], next.Deployments[j] = next.Deployments[j], next.Deployments[i]
	})
	got, m2 := memoStats(t, &next, o, m1)
	requireSameStats(t, "with the memo", got, computeStats(&next, o))
	// Per family, every period but the latest month, its quarter and year
	// and "all" comes from the memo.
	months := map[month]bool{}
	for _, d := range in.Deals {
		months[d.Month] = true
	}
	if h := m2.Hits(); h < len(months) {
		t.Errorf("%d periods reused, want at least %d (the unchanged months of deals and deployments)", h, len(months))
	}
	// The memo keeps only the last computation's rows.
	_, m3 := memoStats(t, &next, o, m2)
	if len(m3.next) != len(m2.next) || m3.Hits() != len(m2.next) {
		t.Errorf("same input again: %d of %d periods reused, %d kept before", m3.Hits(), len(m3.next), len(m2.next))
	}
}

// TestFigureMemoSeesEveryField changes one field of the items of an old
// month (a period an incremental refresh would leave alone), field by
// field: the figures with the memo must be those computed afresh. A field
// left out of the fingerprint lets the old period's rows through and
// fails its case. Each case first checks that its change changes the
// figures at all.
func TestFigureMemoSeesEveryField(t *testing.T) {
	t.Parallel()
	in := benchOrg(11, 0.02)
	o := StatsOptions{}
	base, m := memoStats(t, in, o, nil)
	var old month = 1 << 30
	for _, d := range in.Deals {
		old = min(old, d.Month)
	}
	deals := func(change func(d *dealRow)) func(s *statsInput) {
		return func(s *statsInput) {
			s.Deals = slices.Clone(s.Deals)
			for i := range s.Deals {
				if s.Deals[i].Month == old {
					change(&s.Deals[i])
				}
			}
		}
	}
	// The deployments' month with the most groups (the input is small).
	per := map[month]int{}
	var busy month
	for _, g := range in.Deployments {
		if per[g.Month]++; per[g.Month] > per[busy] {
			busy = g.Month
		}
	}
	if busy == lastMonth(in) {
		t.Fatal("the busiest month of deployments is the latest: pick another seed")
	}
	deploys := func(change func(g *deployGroup)) func(s *statsInput) {
		return func(s *statsInput) {
			s.Deployments = slices.Clone(s.Deployments)
			for i := range s.Deployments {
				if s.Deployments[i].Month == busy {
					g := &s.Deployments[i]
					g.Lead = slices.Clone(g.Lead)
					change(g)
				}
			}
		}
	}
	flip := map[string]string{"fast": "slow", "slow": "fast", "medium": "fast", "none": "slow", "incomplete": "fast"}
	for _, tc := range []struct {
		name   string
		change func(s *statsInput)
	}{
		{"deal account", deals(func(d *dealRow) { d.Account = "acct-00000" })},
		{"deal bucket", deals(func(d *dealRow) { d.Bucket = flip[d.Bucket] })},
		{"deal segment", deals(func(d *dealRow) { d.Segment = "enterprise" })},
		{"deal review bucket", deals(func(d *dealRow) { d.ReviewBucket = "incomplete" })},
		{"deal outcome", deals(func(d *dealRow) { d.Outcome = "won" })},
		{"deal loss reason", deals(func(d *dealRow) { d.Loss = "security" })},
		{"deal won", deals(func(d *dealRow) { d.Won = !d.Won })},
		{"deal turnaround known", deals(func(d *dealRow) { d.HasTurnaround = !d.HasTurnaround })},
		{"deal turnaround", deals(func(d *dealRow) { d.Turnaround *= 2 })},
		{"deal cycle", deals(func(d *dealRow) { d.Cycle *= 2 })},
		{"deal amount", deals(func(d *dealRow) { d.Amount *= 2 })},
		{"deployment service", deploys(func(g *deployGroup) { g.Service = "svc-000" })},
		{"deployment department", deploys(func(g *deployGroup) { g.Department = "legal" })},
		{"deployment team", deploys(func(g *deployGroup) { g.Team = "legal-team-0" })},
		{"deployment environment", deploys(func(g *deployGroup) { g.Environment = "dev" })},
		{"deployment status", deploys(func(g *deployGroup) { g.Status = "failure" })},
		{"deployment blocked", deploys(func(g *deployGroup) { g.Blocked = !g.Blocked })},
		{"deployment waived", deploys(func(g *deployGroup) { g.Waived = !g.Waived })},
		{"deployment count", deploys(func(g *deployGroup) { g.N++ })},
		{"deployment lead", deploys(func(g *deployGroup) { g.Lead[0] += 7 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := *in
			tc.change(&s)
			want := computeStats(&s, o)
			if slices.EqualFunc(want, base, sameStat) {
				t.Fatal("the change does not change the figures: the case cannot fail")
			}
			got, _ := memoStats(t, &s, o, m)
			requireSameStats(t, tc.name, got, want)
		})
	}
}

// TestResamplesStep: the reduced replicate count moves in steps of 100
// (at most 2e8 draws, at least 200), so a few percent more data keeps it
// and the deployments' unchanged periods can be reused.
func TestResamplesStep(t *testing.T) {
	for _, tc := range []struct{ set, n, want int }{
		{0, 0, 2000}, {0, 100_000, 2000}, {0, 100_001, 1900}, {0, 105_000, 1900},
		{0, 250_000, 800}, {0, 259_000, 700}, {0, 1_000_000, 200}, {0, 5_000_000, 200}, {500, 5_000_000, 500},
	} {
		if got := resamples(tc.set, tc.n); got != tc.want {
			t.Errorf("resamples(%d, %d) = %d, want %d", tc.set, tc.n, got, tc.want)
		}
		if tc.set == 0 && tc.n > 0 && resamples(tc.set, tc.n)*tc.n > 200_000_000 && resamples(tc.set, tc.n) > 200 {
			t.Errorf("resamples(0, %d): more than 2e8 draws", tc.n)
		}
	}
}
