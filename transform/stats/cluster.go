package stats

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Obs is one observation of a comparison between an exposed group (X true:
// a deal with a fast review, a deployment a gate blocked) and a reference
// group. Y is the outcome (1/0 for a proportion), Stratum the level of the
// confounder it is compared within (0 when there is none) and Cluster the
// unit observations are drawn in (an account, a service): observations of
// one cluster are not independent.
type Obs struct {
	Y       float64
	X       bool
	Stratum int
	Cluster int
}

// ClusterDiff returns mean(Y | X) - mean(Y | not X), for 1/0 outcomes the
// difference of two proportions, with a cluster-robust interval: the
// coefficient of X in the least-squares fit Y ~ 1 + X with the CR1 sandwich
// variance clustered by Cluster (Liang and Zeger 1986; Cameron and Miller
// 2015, J Hum Resour 50:317, section II.C: the G/(G-1) * (N-1)/(N-K) small
// sample factor) and a Student t interval on G-1 degrees of freedom,
// exactly as statsmodels' OLS(...).fit(cov_type="cluster", use_t=True)
// computes it. The point estimate is the plain difference (the same as
// NewcombeDiff's); only the interval allows for observations of one
// account or service going together.
func ClusterDiff(obs []Obs, conf float64) Estimate {
	one := make([]Obs, len(obs))
	for i, o := range obs {
		o.Stratum = 0
		one[i] = o
	}
	e := ClusterStratifiedDiff(one, conf)
	e.Method = "diff_ols_cluster_cr1_t"
	return e
}

// ClusterStratifiedDiff returns the difference between the exposed and the
// reference group within strata, pooled with the Mantel-Haenszel risk
// difference weights n1*n0/(n1+n0), with a cluster-robust interval. The
// estimate equals MantelHaenszelRD's: it is the coefficient of X in the
// least-squares fit Y ~ X + C(Stratum) (within a stratum X's residual is
// X - n1/n, whose sum of squares is n1*n0/n). The interval is that
// coefficient's CR1 sandwich variance clustered by Cluster with a t
// interval on G-1 degrees of freedom, as statsmodels computes it for the
// same fit. Strata lacking either group carry no information and are left
// out (N counts the observations used). Clusters may span strata.
func ClusterStratifiedDiff(obs []Obs, conf float64) Estimate {
	e := Estimate{Method: "mantel_haenszel_rd_ols_cluster_cr1_t"}
	type st struct {
		n1, n0     int
		sum1, sum0 float64
	}
	// Strata and clusters numbered in id order (renumber): tables indexed
	// by number, walked in id order, instead of maps probed per
	// observation.
	sid, cid := make([]int, len(obs)), make([]int, len(obs))
	for i, o := range obs {
		sid[i], cid[i] = o.Stratum, o.Cluster
	}
	sIdx, nStrata := renumber(sid, nil)
	cIdx, nClusters := renumber(cid, nil)
	for i := range obs {
		sid[i], cid[i] = sIdx(sid[i]), cIdx(cid[i])
	}
	strata := make([]st, nStrata)
	for i, o := range obs {
		s := &strata[sid[i]]
		if o.X {
			s.n1++
			s.sum1 += o.Y
		} else {
			s.n0++
			s.sum0 += o.Y
		}
	}
	// Sum over strata in stratum order: the same floats whatever order the
	// observations came in.
	var num, den float64
	k := 1 // parameters: X and one intercept per stratum used
	for _, s := range strata {
		if s.n1 == 0 || s.n0 == 0 {
			continue
		}
		n1, n0 := float64(s.n1), float64(s.n0)
		w := n1 * n0 / (n1 + n0)
		num += w * (s.sum1/n1 - s.sum0/n0)
		den += w
		e.N += s.n1 + s.n0
		k++
	}
	if den == 0 {
		e.Value, e.Low, e.High, e.SE = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return e
	}
	beta := num / den
	e.Value = beta
	// Score of each cluster: sum of x~ * residual over its observations,
	// x~ = X - n1/n of the stratum, residual = Y - (stratum mean - beta *
	// n1/n) - beta * X.
	score := make([]float64, nClusters)
	scored := make([]bool, nClusters)
	for i, o := range obs {
		s := &strata[sid[i]]
		if s.n1 == 0 || s.n0 == 0 {
			continue
		}
		n := float64(s.n1 + s.n0)
		pi := float64(s.n1) / n
		alpha := (s.sum1+s.sum0)/n - beta*pi
		x := 0.0
		if o.X {
			x = 1
		}
		score[cid[i]] += (x - pi) * (o.Y - alpha - beta*x)
		scored[cid[i]] = true
	}
	// The middle of the sandwich: the sum over clusters of the squared
	// cluster scores, in cluster order.
	var meat float64
	g := 0
	for c, sc := range score {
		if scored[c] {
			meat += sc * sc
			g++
		}
	}
	e.Clusters = g
	if g < 2 || e.N <= k {
		e.Low, e.High, e.SE = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	gf, nf := float64(g), float64(e.N)
	v := meat / (den * den) * gf / (gf - 1) * (nf - 1) / (nf - float64(k))
	e.SE = math.Sqrt(v)
	e.DF = gf - 1
	t := tq(conf, e.DF)
	e.Low, e.High = beta-t*e.SE, beta+t*e.SE
	return e
}

// TwoSidedP returns the two-sided p-value of e against 0 from its
// standard error: Student t on e.DF degrees of freedom, normal when DF is 0.
// NaN without a standard error.
func TwoSidedP(e Estimate) float64 {
	if !(e.SE > 0) || math.IsNaN(e.Value) {
		return math.NaN()
	}
	t := math.Abs(e.Value) / e.SE
	if e.DF > 0 {
		return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: e.DF}.Survival(t)
	}
	return 2 * distuv.UnitNormal.Survival(t)
}

// sumSquares is the middle of the sandwich: the sum over clusters of the
// squared cluster scores, in cluster order, so the result does not depend
// on map iteration order.
func sumSquares(score map[int]float64) float64 {
	ids := make([]int, 0, len(score))
	for c := range score {
		ids = append(ids, c)
	}
	slices.Sort(ids)
	var meat float64
	for _, c := range ids {
		meat += score[c] * score[c]
	}
	return meat
}

// DiDObs is one observation of a difference-in-differences comparison:
// Treated marks the group a change applied to, After the period after it.
type DiDObs struct {
	Y              float64
	Treated, After bool
	Cluster        int
}

// DiffInDiff returns the difference-in-differences
//
//	(mean treated after - mean treated before) - (mean comparison after - mean comparison before)
//
// with a cluster-robust interval: the interaction coefficient of the
// least-squares fit Y ~ 1 + Treated + After + Treated:After (which equals
// the difference of the four cell means) with the CR1 sandwich variance
// clustered by Cluster and a t interval on G-1 degrees of freedom, as
// statsmodels computes it (Angrist and Pischke 2009, Mostly Harmless
// Econometrics, 5.2; Bertrand, Duflo and Mullainathan 2004, QJE 119:249,
// on why the clustering matters). It is an estimate of the change's
// association only under parallel trends: without the change both groups
// would have moved alike. NaNs when a cell is empty.
func DiffInDiff(obs []DiDObs, conf float64) Estimate {
	e := Estimate{N: len(obs), Method: "did_ols_cluster_cr1_t"}
	var n [4]float64
	var sum [4]float64
	cell := func(o DiDObs) int {
		c := 0
		if o.Treated {
			c |= 2
		}
		if o.After {
			c |= 1
		}
		return c
	}
	for _, o := range obs {
		c := cell(o)
		n[c]++
		sum[c] += o.Y
	}
	for _, v := range n {
		if v == 0 {
			e.Value, e.Low, e.High, e.SE = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			return e
		}
	}
	var mean [4]float64
	for i := range mean {
		mean[i] = sum[i] / n[i]
	}
	e.Value = (mean[3] - mean[2]) - (mean[1] - mean[0])
	// The saturated fit's residuals are deviations from the cell means and
	// the interaction's row of (X'X)^-1 X' is +-1/n_cell: +1/n for treated
	// after and comparison before, -1/n for the other two cells.
	sign := [4]float64{1, -1, -1, 1}
	score := map[int]float64{}
	for _, o := range obs {
		c := cell(o)
		score[o.Cluster] += sign[c] / n[c] * (o.Y - mean[c])
	}
	g := len(score)
	e.Clusters = g
	if g < 2 || len(obs) <= 4 {
		e.Low, e.High, e.SE = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	meat := sumSquares(score)
	gf, nf := float64(g), float64(len(obs))
	e.SE = math.Sqrt(meat * gf / (gf - 1) * (nf - 1) / (nf - 4))
	e.DF = gf - 1
	t := tq(conf, e.DF)
	e.Low, e.High = e.Value-t*e.SE, e.Value+t*e.SE
	return e
}

// MinimumDetectableEffect returns the smallest true difference a
// comparison with standard error se would find significant at level
// 1-conf (two-sided) with probability power: (q(1-alpha/2) + q(power)) *
// se, q the Student t quantile on df degrees of freedom (the normal one
// when df is 0 or infinite). This is Bloom's (1995, Eval Rev 19:547)
// minimum detectable effect, 2.80 standard errors at 95% and 80% power for
// large samples; it ignores the negligible chance of significance in the
// wrong direction. A non-significant estimate whose MDE is larger than any
// difference that would matter says "too few data", not "no difference".
func MinimumDetectableEffect(se, df, conf, power float64) float64 {
	if math.IsNaN(se) || se < 0 {
		return math.NaN()
	}
	if conf <= 0 || conf >= 1 {
		conf = DefaultConfidence
	}
	if power <= 0 || power >= 1 {
		power = DefaultPower
	}
	q := func(p float64) float64 {
		if df <= 0 || math.IsInf(df, 1) {
			return distuv.UnitNormal.Quantile(p)
		}
		return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
	}
	return (q(1-(1-conf)/2) + q(power)) * se
}

// DefaultPower is the power MinimumDetectableEffect uses when given 0.
const DefaultPower = 0.8

// StandardError returns the standard error behind e: e.SE when the method
// set it, else the half-width of the interval divided by the normal
// critical value (for score intervals, which are not symmetric, the mean
// half-width: an approximation, good enough for a power calculation).
func StandardError(e Estimate, conf float64) float64 {
	if e.SE > 0 || e.DF > 0 {
		return e.SE
	}
	if math.IsNaN(e.Low) || math.IsNaN(e.High) {
		return math.NaN()
	}
	return (e.High - e.Low) / 2 / z(conf)
}

// BreslowDay returns the Breslow-Day statistic for the homogeneity of the
// odds ratios of 2x2 tables across strata and its chi-square p-value on
// K-1 degrees of freedom (Breslow and Day 1980, Statistical Methods in
// Cancer Research I, 4.4), with Tarone's (1985, Biometrika 72:91)
// correction when tarone is set, as statsmodels'
// StratifiedTable.test_equal_odds(adjust) computes it. Exposed events X1 of
// N1, reference events X0 of N0, per stratum. A small p-value says the
// association differs between strata: report the strata, not only the
// pooled figure. Strata with an empty row or column are left out; NaNs
// with fewer than two strata left.
func BreslowDay(strata []Stratum, tarone bool) (chi2, p float64) {
	type tab struct{ a, b, c, d float64 } // a: exposed events, b: exposed non-events, c, d: reference
	var ts []tab
	for _, s := range strata {
		t := tab{float64(s.X1), float64(s.N1 - s.X1), float64(s.X0), float64(s.N0 - s.X0)}
		if s.N1 <= 0 || s.N0 <= 0 || t.a+t.c == 0 || t.b+t.d == 0 {
			continue
		}
		ts = append(ts, t)
	}
	if len(ts) < 2 {
		return math.NaN(), math.NaN()
	}
	// Mantel-Haenszel common odds ratio.
	var rn, rd float64
	for _, t := range ts {
		n := t.a + t.b + t.c + t.d
		rn += t.a * t.d / n
		rd += t.b * t.c / n
	}
	if rn == 0 || rd == 0 {
		return math.NaN(), math.NaN()
	}
	or := rn / rd
	var sumDev, sumVar float64
	for _, t := range ts {
		r1, c1 := t.a+t.b, t.a+t.c
		n := t.a + t.b + t.c + t.d
		r2 := n - r1
		// Expected a under the common odds ratio: the root of
		// (A)(r2-c1+A) = or (r1-A)(c1-A) inside the feasible range.
		qa := 1 - or
		qb := r2 - c1 + or*(r1+c1)
		qc := -or * r1 * c1
		var ea float64
		if math.Abs(qa) < 1e-12 {
			ea = -qc / qb
		} else {
			disc := math.Sqrt(qb*qb - 4*qa*qc)
			lo, hi := math.Max(0, c1-r2), math.Min(r1, c1)
			ea = (-qb + disc) / (2 * qa)
			if ea < lo-1e-9 || ea > hi+1e-9 {
				ea = (-qb - disc) / (2 * qa)
			}
		}
		eb, ec := r1-ea, c1-ea
		ed := r2 - ec
		v := 1 / (1/ea + 1/eb + 1/ec + 1/ed)
		dev := t.a - ea
		chi2 += dev * dev / v
		sumDev += dev
		sumVar += v
	}
	if tarone {
		chi2 -= sumDev * sumDev / sumVar
	}
	p = distuv.ChiSquared{K: float64(len(ts) - 1)}.Survival(chi2)
	return chi2, p
}

// CochranQ returns Cochran's Q statistic for the homogeneity of k
// estimates with the given variances (Cochran 1954, Biometrics 10:101):
// sum w_i (e_i - e_fe)^2 with w_i = 1/v_i and e_fe the inverse-variance
// weighted mean, and its chi-square p-value on k-1 degrees of freedom, as
// statsmodels' combine_effects computes them. For risk differences per
// segment it tests the scale the stratified difference is estimated on
// (Breslow-Day tests odds ratios, which differ between segments with
// different base rates even when the difference is the same). Estimates
// with a NaN or non-positive variance are left out; NaNs with fewer than
// two left.
func CochranQ(est, variance []float64) (q, p float64) {
	var sw, swe float64
	var ok []int
	for i := range est {
		if math.IsNaN(est[i]) || !(variance[i] > 0) {
			continue
		}
		ok = append(ok, i)
		sw += 1 / variance[i]
		swe += est[i] / variance[i]
	}
	if len(ok) < 2 {
		return math.NaN(), math.NaN()
	}
	fe := swe / sw
	for _, i := range ok {
		d := est[i] - fe
		q += d * d / variance[i]
	}
	return q, distuv.ChiSquared{K: float64(len(ok) - 1)}.Survival(q)
}

// ClusterBootstrapMedianDiff returns median(x) - median(y) with a seeded
// percentile cluster bootstrap interval (Davison and Hinkley 1997,
// Bootstrap Methods and their Application, 3.8: resample the clusters, not
// the observations): each of b replicates draws as many clusters as there
// are, with replacement, from all clusters, and takes every observation of
// each drawn cluster, so the spread between services (or accounts) enters
// the interval. cx[i] is the cluster of x[i], cy[i] of y[i]; a cluster may
// hold observations of both groups. Replicates missing a group are
// redrawn. The same seed gives the same interval.
//
// A replicate's medians come from the cluster multiplicities over the
// sorted samples, so one replicate costs O(n) and allocates nothing.
func ClusterBootstrapMedianDiff(x []float64, cx []int, y []float64, cy []int, b int, conf float64, seed uint64) Estimate {
	e := Estimate{N: len(x) + len(y), Method: "median_diff_cluster_bootstrap"}
	if len(x) == 0 || len(y) == 0 || len(cx) != len(x) || len(cy) != len(y) {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	if b <= 0 {
		b = DefaultResamples
	}
	if conf <= 0 || conf >= 1 {
		conf = DefaultConfidence
	}
	// Clusters renumbered 0..G-1 in id order.
	idx, g := renumber(cx, cy)
	e.Clusters = g
	sx, sy := newClusterSample(x, cx, idx, g), newClusterSample(y, cy, idx, g)
	e.Value = sx.median() - sy.median()
	if g < 2 {
		e.Low, e.High = math.NaN(), math.NaN()
		return e
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	mult := make([]int, g)
	diffs := make([]float64, 0, b)
	for tries := 0; len(diffs) < b && tries < 10*b; tries++ {
		clear(mult)
		for range g {
			mult[rng.IntN(g)]++
		}
		mx, okx := sx.weightedMedian(mult)
		my, oky := sy.weightedMedian(mult)
		if !okx || !oky {
			continue
		}
		diffs = append(diffs, mx-my)
	}
	if len(diffs) == 0 {
		e.Low, e.High = math.NaN(), math.NaN()
		return e
	}
	sort.Float64s(diffs)
	alpha := (1 - conf) / 2
	e.Low = quantileSorted(diffs, alpha)
	e.High = quantileSorted(diffs, 1-alpha)
	return e
}

// clusterSample is one group's values sorted, each with its cluster, and
// per block of sampleBlock values how many of each cluster came before:
// the k-th smallest of a resample (cluster c drawn mult[c] times) is then
// a binary search over blocks (O(clusters) per step) and a walk inside one
// block, instead of a pass over every value.
type clusterSample struct {
	all []float64 // every value, sorted
	cl  []int32   // the cluster of each
	g   int
	cum []int32 // cum[j*g+c]: values of cluster c among all[:j*sampleBlock]
}

const sampleBlock = 64

// renumber numbers the distinct cluster ids of cx and cy 0..g-1 in id
// order: idx(id) is the number of id.
func renumber(cx, cy []int) (idx func(int) int, g int) {
	// Both slices are walked in place: a concatenation copied every id
	// three times (about 90 MB a refresh at 10M events).
	both := [2][]int{cx, cy}
	lo, hi := math.MaxInt, math.MinInt
	for _, s := range both {
		for _, c := range s {
			lo, hi = min(lo, c), max(hi, c)
		}
	}
	if uint64(hi-lo) < uint64(4*(len(cx)+len(cy))) { // (hi-lo wraps for ids far apart: a map then)
		// Dense ids (callers number clusters 0..G-1): a table, not a map
		// probed for every value.
		num := make([]int32, hi-lo+1)
		for _, s := range both {
			for _, c := range s {
				num[c-lo] = 1
			}
		}
		for i, seen := range num {
			if seen == 1 {
				num[i] = int32(g)
				g++
			} else {
				num[i] = -1
			}
		}
		return func(c int) int { return int(num[c-lo]) }, g
	}
	m := map[int]int{}
	for _, s := range both {
		for _, c := range s {
			m[c] = 0
		}
	}
	ids := slices.Sorted(maps.Keys(m))
	for i, c := range ids {
		m[c] = i
	}
	return func(c int) int { return m[c] }, len(ids)
}

func newClusterSample(v []float64, c []int, idx func(int) int, g int) clusterSample {
	type vc struct {
		v float64
		c int32
	}
	p := make([]vc, len(v))
	for i := range v {
		p[i] = vc{v[i], int32(idx(c[i]))}
	}
	slices.SortFunc(p, func(a, b vc) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return int(a.c - b.c)
	})
	s := clusterSample{all: make([]float64, len(p)), cl: make([]int32, len(p)), g: g}
	blocks := len(p)/sampleBlock + 1
	s.cum = make([]int32, (blocks+1)*g)
	for i, x := range p {
		s.all[i], s.cl[i] = x.v, x.c
	}
	for j := 1; j <= blocks; j++ {
		copy(s.cum[j*g:(j+1)*g], s.cum[(j-1)*g:j*g])
		for i := (j - 1) * sampleBlock; i < min(j*sampleBlock, len(p)); i++ {
			s.cum[j*g+int(s.cl[i])]++
		}
	}
	return s
}

func (s clusterSample) median() float64 {
	n := len(s.all)
	return (s.all[(n-1)/2] + s.all[n/2]) / 2
}

// weightedMedian returns the median of the multiset holding each value of
// cluster c mult[c] times; false when it is empty.
func (s clusterSample) weightedMedian(mult []int) (float64, bool) {
	total := 0
	last := (len(s.all)/sampleBlock + 1) * s.g // the row after every block
	for c, m := range mult {
		total += m * int(s.cum[last+c])
	}
	if total == 0 {
		return 0, false
	}
	// before(j): elements of the multiset among the first j blocks.
	before := func(j int) int {
		n := 0
		row := s.cum[j*s.g : (j+1)*s.g]
		for c, m := range mult {
			n += m * int(row[c])
		}
		return n
	}
	blocks := len(s.all)/sampleBlock + 1
	kth := func(k int) float64 {
		// The last block boundary with at most k elements before it.
		j := sort.Search(blocks+1, func(j int) bool { return before(j) > k }) - 1
		n := before(j)
		for i := j * sampleBlock; i < len(s.all); i++ {
			n += mult[s.cl[i]]
			if n > k {
				return s.all[i]
			}
		}
		return s.all[len(s.all)-1]
	}
	k1, k2 := (total-1)/2, total/2
	v1 := kth(k1)
	if k2 == k1 {
		return v1, true
	}
	return (v1 + kth(k2)) / 2, true
}
