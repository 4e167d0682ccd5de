package transform

import (
	"fmt"
	"sort"
	"time"
)

// Period is the stretch of time an impact_stats row describes: all data
// (Grain "all"), a calendar year, quarter or month, in UTC. End is
// exclusive. A deal belongs to the period it closed in, a ticket to the one
// it was created in, a deployment to the one it started in, a finding's
// remediation time to the one it was detected in and its SLA outcome to
// the one it fell due in, an incident to the one it was detected in, a
// vendor assessment to the one it was requested in.
type Period struct {
	Name       string // "all", "2026", "2026-Q2", "2026-06"
	Grain      string // "all", "year", "quarter", "month"
	Start, End time.Time
}

// Grains of a period, coarsest first.
const (
	GrainAll     = "all"
	GrainYear    = "year"
	GrainQuarter = "quarter"
	GrainMonth   = "month"
)

func (m month) start() time.Time {
	return time.Date(int(m/100), time.Month(m%100), 1, 0, 0, 0, 0, time.UTC)
}

// periodsOf returns the year, quarter and month m belongs to.
func periodsOf(m month) [3]Period {
	y, mo := int(m/100), int(m%100)
	q := (mo-1)/3 + 1
	ys := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	qs := time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
	ms := m.start()
	return [3]Period{
		{Name: fmt.Sprintf("%04d", y), Grain: GrainYear, Start: ys, End: ys.AddDate(1, 0, 0)},
		{Name: fmt.Sprintf("%04d-Q%d", y, q), Grain: GrainQuarter, Start: qs, End: qs.AddDate(0, 3, 0)},
		{Name: fmt.Sprintf("%04d-%02d", y, mo), Grain: GrainMonth, Start: ms, End: ms.AddDate(0, 1, 0)},
	}
}

// PeriodOf returns the calendar year, quarter or month (grain) holding t.
func PeriodOf(t time.Time, grain string) (Period, error) {
	t = t.UTC()
	ps := periodsOf(month(t.Year()*100 + int(t.Month())))
	for _, p := range ps {
		if p.Grain == grain {
			return p, nil
		}
	}
	return Period{}, fmt.Errorf("period grain %q: want year, quarter or month", grain)
}

// byPeriod groups the n items of a family by period: "all" holds every
// item (Start and End span the months present), then each year, quarter
// and month with items, in time order within each grain. monthOf gives an
// item's month; items with month 0 (no period, e.g. a finding not in an
// SLA cohort) are left out.
func byPeriod(n int, monthOf func(i int) month) []periodItems {
	if n == 0 {
		return nil
	}
	all := periodItems{Period: Period{Name: "all", Grain: GrainAll}}
	groups := map[string]*periodItems{}
	// A month's year, quarter and month, looked up once per month
	// (periodsOf formats names), not by name for every item.
	of := map[month]*[3]*periodItems{}
	// Two passes: the items of each month counted first, so every
	// period's list is allocated once at its size (appending grew them
	// several times over).
	perMonth := map[month]int{}
	for i := 0; i < n; i++ {
		if m := monthOf(i); m != 0 {
			perMonth[m]++
		}
	}
	var lo, hi month
	total := 0
	size := map[*periodItems]int{}
	for m, k := range perMonth {
		gs := new([3]*periodItems)
		for j, p := range periodsOf(m) {
			g := groups[p.Name]
			if g == nil {
				g = &periodItems{Period: p}
				groups[p.Name] = g
			}
			gs[j] = g
			size[g] += k
		}
		of[m] = gs
		total += k
		if lo == 0 || m < lo {
			lo = m
		}
		if m > hi {
			hi = m
		}
	}
	all.Items = make([]int, 0, total)
	for g, k := range size {
		g.Items = make([]int, 0, k)
	}
	for i := 0; i < n; i++ {
		m := monthOf(i)
		if m == 0 {
			continue
		}
		all.Items = append(all.Items, i)
		for _, g := range of[m] {
			g.Items = append(g.Items, i)
		}
	}
	if len(all.Items) == 0 {
		return nil
	}
	all.Start, all.End = lo.start(), hi.start().AddDate(0, 1, 0)
	out := []periodItems{all}
	rank := map[string]int{GrainYear: 0, GrainQuarter: 1, GrainMonth: 2}
	var rest []periodItems
	for _, g := range groups {
		rest = append(rest, *g)
	}
	sort.Slice(rest, func(a, b int) bool {
		if ra, rb := rank[rest[a].Grain], rank[rest[b].Grain]; ra != rb {
			return ra < rb
		}
		return rest[a].Start.Before(rest[b].Start)
	})
	return append(out, rest...)
}

type periodItems struct {
	Period
	Items []int
}
