package stats

import "math"

// Change is a - b, a figure of one period minus the same figure of
// another, with the MOVER interval (method of variance estimates
// recovery; Zou and Donner 2008, Statistics in Medicine 27:1693): built
// from the two figures' own 95% limits, so it keeps their asymmetry
// (Wilson, order-statistic, t):
//
//	low  = (a - b) - sqrt((a - a.Low)^2 + (b.High - b)^2)
//	high = (a - b) + sqrt((a.High - a)^2 + (b - b.Low)^2)
//
// With Wilson limits for two proportions it is exactly Newcombe's hybrid
// score interval (NewcombeDiff). It assumes the two figures come from
// independent observations: periods hold different deals, tickets and
// deployments, but the same accounts and services recur, so the interval
// is somewhat narrow when they cluster. Without limits on either side the
// change has none (Low and High NaN). N is a.N + b.N.
func Change(a, b Estimate) Estimate {
	e := Estimate{N: a.N + b.N, Value: a.Value - b.Value, Method: "mover"}
	if anyNaN(a.Value, a.Low, a.High, b.Value, b.Low, b.High) {
		e.Low, e.High = math.NaN(), math.NaN()
		return e
	}
	e.Low = e.Value - math.Sqrt(sq(a.Value-a.Low)+sq(b.High-b.Value))
	e.High = e.Value + math.Sqrt(sq(a.High-a.Value)+sq(b.Value-b.Low))
	return e
}

// Distinguishable reports whether a change's interval excludes zero: the
// change is larger than the noise of the two figures would explain (at
// the interval's level). A change without an interval is not.
func Distinguishable(c Estimate) bool {
	if math.IsNaN(c.Low) || math.IsNaN(c.High) {
		return false
	}
	return c.Low > 0 || c.High < 0
}

func sq(x float64) float64 { return x * x }

func anyNaN(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return true
		}
	}
	return false
}
