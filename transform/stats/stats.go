// Package stats holds the few statistical procedures the impact figures
// need: score intervals for proportions and their differences, correlation
// coefficients with Fisher-z intervals, a bootstrap interval for a median
// difference, the Mann-Whitney test, Benjamini-Hochberg adjustment and a
// Mantel-Haenszel stratified risk difference.
//
// Every function is pure and deterministic (the bootstrap takes a seed), so
// the same fact tables always give the same impact_stats rows. Distributions
// come from gonum; the formulas are cited on each function and checked in
// the tests against published worked examples.
package stats

import (
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Evidence levels, as stored in impact_stats.evidence. Insufficient marks a
// figure below the minimum-n rule: dashboards grey it out.
const (
	Descriptive     = "descriptive"
	Adjusted        = "adjusted"
	QuasiExperiment = "quasi_experiment"
	Experiment      = "experiment"
	Insufficient    = "insufficient"
)

// DefaultConfidence is the confidence level used when a caller passes 0.
const DefaultConfidence = 0.95

// Estimate is a point estimate with its confidence interval. Low and High
// are NaN when the interval is undefined (for example n too small).
type Estimate struct {
	N      int     // observations behind the figure (pairs, deals, ...)
	Value  float64 // the point estimate
	Low    float64 // lower confidence limit
	High   float64 // upper confidence limit
	Method string  // short name of the method, stored in impact_stats.method
	// SE is the standard error of Value where the method has one (0
	// otherwise), DF the degrees of freedom of its t interval (0: normal).
	SE float64
	DF float64
	// Clusters is the number of clusters (accounts, services) behind a
	// cluster-robust interval; 0 when the method assumes independence.
	Clusters int
}

// z returns the two-sided standard normal critical value for confidence
// level conf (0 means 95%).
func z(conf float64) float64 {
	if conf <= 0 || conf >= 1 {
		conf = DefaultConfidence
	}
	return distuv.UnitNormal.Quantile(1 - (1-conf)/2)
}

// Wilson returns the proportion x/n with its Wilson score interval without
// continuity correction (Wilson 1927; Newcombe 1998, Stat Med 17:857,
// method 3). Unlike the Wald interval it stays inside [0, 1] and keeps its
// coverage for small n and proportions near 0 or 1. n == 0 gives NaNs.
func Wilson(x, n int, conf float64) Estimate {
	e := Estimate{N: n, Method: "wilson"}
	if n <= 0 || x < 0 || x > n {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	e.Low, e.High = wilsonLimits(float64(x), float64(n), z(conf))
	e.Value = float64(x) / float64(n)
	return e
}

func wilsonLimits(x, n, z float64) (lo, hi float64) {
	p := x / n
	z2 := z * z
	centre := p + z2/(2*n)
	half := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	den := 1 + z2/n
	lo, hi = (centre-half)/den, (centre+half)/den
	// Exact limits at the boundaries; the formula leaves rounding noise.
	if x == 0 {
		lo = 0
	}
	if x == n {
		hi = 1
	}
	return lo, hi
}

// NewcombeDiff returns p1 - p2 = x1/n1 - x2/n2 with Newcombe's hybrid score
// interval (Newcombe 1998, Stat Med 17:873, method 10), built from the two
// Wilson intervals. It needs no iteration and behaves well when a
// proportion is 0 or 1, which win rates of small buckets often are.
func NewcombeDiff(x1, n1, x2, n2 int, conf float64) Estimate {
	e := Estimate{N: n1 + n2, Method: "newcombe_hybrid_score"}
	if n1 <= 0 || n2 <= 0 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	zz := z(conf)
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := wilsonLimits(float64(x1), float64(n1), zz)
	l2, u2 := wilsonLimits(float64(x2), float64(n2), zz)
	d := p1 - p2
	e.Value = d
	e.Low = d - math.Sqrt((p1-l1)*(p1-l1)+(u2-p2)*(u2-p2))
	e.High = d + math.Sqrt((u1-p1)*(u1-p1)+(p2-l2)*(p2-l2))
	return e
}

// TwoProportionP returns the two-sided p-value of the pooled two-proportion
// z-test of x1/n1 against x2/n2 (no continuity correction). It feeds the
// Benjamini-Hochberg adjustment of segment scans.
func TwoProportionP(x1, n1, x2, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return math.NaN()
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	p := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 1
	}
	return 2 * distuv.UnitNormal.Survival(math.Abs(p1-p2)/se)
}

// Stratum is one 2x2 table of a stratified comparison: X1 events out of N1
// in the exposed group, X0 out of N0 in the reference group.
type Stratum struct {
	X1, N1, X0, N0 int
}

// MantelHaenszelRD returns the Mantel-Haenszel pooled risk difference
// across strata with weights N1*N0/(N1+N0) and the Greenland-Robins (1985,
// Biometrics 41:55) variance, with a normal (Wald) interval. The variance
// is the large-strata estimator; the few strata used here (customer
// segments) are large. Strata where either group is empty carry no
// information and are skipped; N counts the observations used.
func MantelHaenszelRD(strata []Stratum, conf float64) Estimate {
	e := Estimate{Method: "mantel_haenszel_rd"}
	var num, wsum, vnum float64
	for _, s := range strata {
		if s.N1 <= 0 || s.N0 <= 0 {
			continue
		}
		n1, n0 := float64(s.N1), float64(s.N0)
		x1, x0 := float64(s.X1), float64(s.X0)
		nn := n1 + n0
		w := n1 * n0 / nn
		num += w * (x1/n1 - x0/n0)
		wsum += w
		vnum += (x1*(n1-x1)*n0*n0/n1 + x0*(n0-x0)*n1*n1/n0) / (nn * nn)
		e.N += s.N1 + s.N0
	}
	if wsum == 0 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	e.Value = num / wsum
	se := math.Sqrt(vnum) / wsum
	zz := z(conf)
	e.SE = se
	e.Low, e.High = e.Value-zz*se, e.Value+zz*se
	return e
}

// Pearson returns Pearson's r with the Fisher-z interval
// tanh(atanh(r) +- z/sqrt(n-3)) (Fisher 1921). Fewer than 4 pairs or a
// constant variable give NaNs.
func Pearson(x, y []float64, conf float64) Estimate {
	e := Estimate{N: len(x), Method: "pearson_fisher_z"}
	if len(x) != len(y) || len(x) < 4 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	e.Value = stat.Correlation(x, y, nil)
	e.Low, e.High = fisherZ(e.Value, 1/math.Sqrt(float64(len(x)-3)), z(conf))
	return e
}

// Spearman returns Spearman's rho (Pearson's r of mid-ranks, so ties are
// handled) with a Fisher-z interval using the Bonett and Wright (2000,
// Psychometrika 65:23) standard error sqrt((1 + rho^2/2)/(n-3)), which
// keeps the nominal coverage for rank correlations where 1/sqrt(n-3) is
// too narrow.
func Spearman(x, y []float64, conf float64) Estimate {
	e := Estimate{N: len(x), Method: "spearman_fisher_z_bonett_wright"}
	if len(x) != len(y) || len(x) < 4 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	e.Value = stat.Correlation(Ranks(x), Ranks(y), nil)
	se := math.Sqrt((1 + e.Value*e.Value/2) / float64(len(x)-3))
	e.Low, e.High = fisherZ(e.Value, se, z(conf))
	return e
}

func fisherZ(r, se, zz float64) (lo, hi float64) {
	if math.IsNaN(r) {
		return math.NaN(), math.NaN()
	}
	if r >= 1 || r <= -1 {
		return r, r
	}
	zr := math.Atanh(r)
	return math.Tanh(zr - zz*se), math.Tanh(zr + zz*se)
}

// Ranks returns the 1-based mid-ranks of x (tied values share the mean of
// their ranks).
func Ranks(x []float64) []float64 {
	// Sort (value, index) pairs, ties by index: a stable sort by value
	// (SortByValue, linear); with a NaN, whose comparisons are all false,
	// the comparison sort this always was.
	type vi struct {
		v float64
		i int
	}
	s := make([]vi, len(x))
	nan := false
	for i, v := range x {
		s[i] = vi{v, i}
		nan = nan || math.IsNaN(v)
	}
	if nan {
		slices.SortFunc(s, func(a, b vi) int {
			switch {
			case a.v < b.v:
				return -1
			case b.v < a.v:
				return 1
			default:
				return a.i - b.i
			}
		})
	} else {
		SortByValue(s, func(p vi) float64 { return p.v }) // stable: ties by index
	}
	r := make([]float64, len(x))
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1].v == s[i].v {
			j++
		}
		mid := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[s[k].i] = mid
		}
		i = j + 1
	}
	return r
}

// rankSum returns the sum of x's mid-ranks in x and y pooled, and the sum
// of t^3 - t over the pooled values' tie groups (of size t).
func rankSum(x, y []float64) (r1, tie float64) {
	all := make([]float64, 0, len(x)+len(y))
	all = append(append(all, x...), y...)
	r := Ranks(all)
	for i := range x {
		r1 += r[i]
	}
	sort.Float64s(all)
	for i := 0; i < len(all); {
		j := i
		for j+1 < len(all) && all[j+1] == all[i] {
			j++
		}
		t := float64(j - i + 1)
		tie += t*t*t - t
		i = j + 1
	}
	return r1, tie
}

// mergedRankSum is rankSum for x and y sorted in ascending order (callers
// that sort once for several procedures pass them so): one merge, in
// linear time and without allocating.
func mergedRankSum(x, y []float64) (r1, tie float64) {
	i, j, pos := 0, 0, 0
	for i < len(x) || j < len(y) {
		var v float64
		switch {
		case j == len(y) || (i < len(x) && x[i] <= y[j]):
			v = x[i]
		default:
			v = y[j]
		}
		cx, cy := 0, 0
		for i < len(x) && x[i] == v {
			i, cx = i+1, cx+1
		}
		for j < len(y) && y[j] == v {
			j, cy = j+1, cy+1
		}
		t := cx + cy
		r1 += float64(cx) * (float64(pos) + float64(t+1)/2)
		tie += float64(t)*float64(t)*float64(t) - float64(t)
		pos += t
	}
	return r1, tie
}

// sortedNumbers tells whether x is in ascending order and holds no NaN.
func sortedNumbers(x []float64) bool {
	for i := range x {
		if math.IsNaN(x[i]) || (i > 0 && x[i] < x[i-1]) {
			return false
		}
	}
	return true
}

// MannWhitney returns the Mann-Whitney U statistic of x (U1, the number of
// pairs with x > y plus half the ties) and the two-sided p-value of the
// normal approximation with tie and continuity correction, as
// scipy.stats.mannwhitneyu(method="asymptotic") computes it.
func MannWhitney(x, y []float64) (u, p float64) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return math.NaN(), math.NaN()
	}
	var r1, tie float64
	if sortedNumbers(x) && sortedNumbers(y) {
		r1, tie = mergedRankSum(x, y)
	} else {
		r1, tie = rankSum(x, y)
	}
	fn1, fn2 := float64(n1), float64(n2)
	u = r1 - fn1*(fn1+1)/2
	n := fn1 + fn2
	mu := fn1 * fn2 / 2
	sigma := math.Sqrt(fn1 * fn2 / 12 * ((n + 1) - tie/(n*(n-1))))
	if sigma == 0 {
		return u, 1
	}
	zz := (math.Abs(u-mu) - 0.5) / sigma
	if zz < 0 {
		zz = 0
	}
	p = 2 * distuv.UnitNormal.Survival(zz)
	return u, math.Min(p, 1)
}

// BenjaminiHochberg returns the Benjamini-Hochberg (1995) adjusted p-values
// (false discovery rate q-values) in the order of p, as R's
// p.adjust(p, "BH") does. NaN p-values are left NaN and not counted.
func BenjaminiHochberg(p []float64) []float64 {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = math.NaN()
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	m := float64(len(idx))
	min := 1.0
	for k := len(idx) - 1; k >= 0; k-- {
		v := p[idx[k]] * m / float64(k+1)
		if v < min {
			min = v
		}
		out[idx[k]] = min
	}
	return out
}

// Quantile returns the q-quantile of x with linear interpolation between
// order statistics (Hyndman-Fan type 7, the default of R and numpy). x is
// not modified.
func Quantile(x []float64, q float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return quantileSorted(s, q)
}

func quantileSorted(s []float64, q float64) float64 {
	h := q * float64(len(s)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-lo)*(s[i+1]-s[i])
}
