package brief

import (
	"math"
	"time"

	"github.com/secimpact/impact/transform/stats"
)

// Comparison sets each headline figure of the brief's period beside the
// same figure of an earlier period.
type Comparison struct {
	Label    string    // e.g. "previous quarter (2026-Q1)"
	From, To time.Time // the earlier period, To exclusive
	Changes  []Change
}

// Change is one figure in both periods and the change between them: the
// difference with its 95% interval from the two figures' own intervals
// (stats.Change, MOVER), and whether that interval excludes zero.
type Change struct {
	Title             string
	Unit              string
	Current, Previous Figure
	Change            float64
	Low, High         float64 // NaN when there is no interval (totals, counts, a figure without one)
	Distinguishable   bool    // the interval excludes zero: more than noise
	Note              string  // why there is no change or no interval
}

// Compare returns the comparison of cur with prev, figure by figure (by
// title), described by label. A figure greyed out for too small an n in
// either period gets no change; totals and counts (no interval) get a
// change without one.
func Compare(cur, prev Data, label string) *Comparison {
	c := &Comparison{Label: label, From: prev.From, To: prev.To}
	before := map[string]Figure{}
	for _, f := range prev.Headlines {
		before[f.Title] = f
	}
	for _, f := range cur.Headlines {
		p, ok := before[f.Title]
		ch := Change{Title: f.Title, Unit: f.Unit, Current: f, Previous: p, Change: math.NaN(), Low: math.NaN(), High: math.NaN()}
		switch {
		case !ok:
			ch.Note = "not in the earlier period"
		case f.Suppressed || p.Suppressed:
			ch.Note = "n too small in one of the periods"
		default:
			e := stats.Change(stats.Estimate{Value: f.Estimate, Low: f.Low, High: f.High, N: int(f.N)},
				stats.Estimate{Value: p.Estimate, Low: p.Low, High: p.High, N: int(p.N)})
			ch.Change, ch.Low, ch.High = e.Value, e.Low, e.High
			ch.Distinguishable = stats.Distinguishable(e)
			if math.IsNaN(e.Low) {
				ch.Note = "a total or count: no sampling interval"
			}
		}
		c.Changes = append(c.Changes, ch)
	}
	return c
}
