package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(want) != math.IsNaN(got) || (!math.IsNaN(want) && math.Abs(got-want) > tol) {
		t.Errorf("%s = %.10f, want %.10f (tol %g)", what, got, want, tol)
	}
}

// Wilson limits: Newcombe (1998) "Two-sided confidence intervals for the
// single proportion", Stat Med 17:857-872, Table I, method 3 (published to 4
// decimals); more digits and the 29/29, 0/1 rows from
// statsmodels 0.15.0 proportion_confint(x, n, method="wilson").
func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		x, n   int
		lo, hi float64
	}{
		{81, 263, 0.2552885199, 0.3662095770}, // Newcombe Table I: 0.2553, 0.3662
		{15, 148, 0.0623863995, 0.1604872417}, // 0.0624, 0.1605
		{0, 20, 0, 0.1611251581},              // 0.0000, 0.1611
		{1, 29, 0.0061132143, 0.1717552188},   // 0.0061, 0.1718
		{29, 29, 0.8830302015, 1},
		{0, 1, 0, 0.7934506856},
	} {
		e := Wilson(tc.x, tc.n, 0.95)
		near(t, "wilson low", e.Low, tc.lo, 1e-9)
		near(t, "wilson high", e.High, tc.hi, 1e-9)
		near(t, "wilson value", e.Value, float64(tc.x)/float64(tc.n), 1e-15)
	}
	if e := Wilson(0, 0, 0.95); !math.IsNaN(e.Low) || !math.IsNaN(e.Value) {
		t.Errorf("Wilson(0,0) = %+v, want NaNs", e)
	}
}

// Newcombe hybrid score interval (method 10): Newcombe (1998) "Interval
// estimation for the difference between independent proportions", Stat Med
// 17:873-890, Table II examples (a)-(h), published to 4 decimals; more
// digits from statsmodels 0.15.0 confint_proportions_2indep(method="newcomb").
// The p-values are statsmodels proportions_ztest (pooled, no correction).
func TestNewcombeDiff(t *testing.T) {
	for _, tc := range []struct {
		x1, n1, x2, n2 int
		lo, hi, p      float64
	}{
		{56, 70, 48, 80, 0.0524314724, 0.3338726540, 0.0080450813682}, // (a) 0.0524, 0.3339
		{9, 10, 3, 10, 0.1705227239, 0.8090179735, 0.00616989932054},  // (b) 0.1705, 0.8090
		{6, 7, 2, 7, 0.0582279275, 0.8062496375, 0.0307535612593},     // (c) 0.0582, 0.8062
		{5, 56, 0, 29, -0.0381371479, 0.1925600139, 0.0971865681706},  // (d) -0.0381, 0.1926
		{0, 10, 0, 20, -0.1611251581, 0.2775327999, 1},                // (e) -0.1611, 0.2775
		{0, 10, 0, 10, -0.2775327999, 0.2775327999, 1},                // (f) -0.2775, 0.2775
		{10, 10, 0, 20, 0.6790860371, 1, 4.32046305783e-08},           // (g) 0.6791, 1.0000
		{10, 10, 0, 10, 0.6075093504, 1, 7.74421643104e-06},           // (h) 0.6075, 1.0000
	} {
		e := NewcombeDiff(tc.x1, tc.n1, tc.x2, tc.n2, 0.95)
		near(t, "newcombe low", e.Low, tc.lo, 1e-9)
		near(t, "newcombe high", e.High, tc.hi, 1e-9)
		near(t, "newcombe value", e.Value, float64(tc.x1)/float64(tc.n1)-float64(tc.x2)/float64(tc.n2), 1e-15)
		if e.N != tc.n1+tc.n2 {
			t.Errorf("N = %d, want %d", e.N, tc.n1+tc.n2)
		}
		p := TwoProportionP(tc.x1, tc.n1, tc.x2, tc.n2)
		near(t, "two-proportion p", p, tc.p, 1e-9*math.Max(1, tc.p)+1e-15)
	}
}

// BH: the 15 p-values of Benjamini and Hochberg (1995), JRSS B 57:289,
// section 4.1 (the first four are rejected at q = 0.05); adjusted values from
// statsmodels 0.15.0 multipletests(method="fdr_bh"), equal to R's p.adjust.
func TestBenjaminiHochberg(t *testing.T) {
	p := []float64{0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000}
	want := []float64{0.0015, 0.0030, 0.0095, 0.035625, 0.0603, 0.0638571429, 0.0638571429, 0.0645, 0.0765, 0.486, 0.5811818182, 0.714875, 0.7532307692, 0.8132142857, 1}
	// Reverse the input so the order-preserving output is tested too.
	rp := make([]float64, len(p))
	for i := range p {
		rp[len(p)-1-i] = p[i]
	}
	got := BenjaminiHochberg(rp)
	rejected := 0
	for i := range want {
		near(t, "bh", got[len(p)-1-i], want[i], 1e-9)
		if got[i] <= 0.05 {
			rejected++
		}
	}
	if rejected != 4 {
		t.Errorf("rejected at q=0.05: %d, want 4 (BH 1995)", rejected)
	}
	got = BenjaminiHochberg([]float64{0.01, math.NaN(), 0.04})
	near(t, "bh with NaN [0]", got[0], 0.02, 1e-12)
	near(t, "bh with NaN [1]", got[1], math.NaN(), 0)
	near(t, "bh with NaN [2]", got[2], 0.04, 1e-12)
}

// Correlations: values from scipy 1.17.1 (pearsonr(x, y).confidence_interval
// is the Fisher-z interval; the Spearman interval is computed from
// spearmanr's rho with the Bonett-Wright standard error in numpy).
func TestCorrelations(t *testing.T) {
	x := []float64{1.2, 2.3, 3.1, 4.8, 5.0, 6.7, 7.7, 8.1, 9.9, 10.2}
	y := []float64{2.0, 1.9, 3.5, 3.9, 6.1, 5.5, 8.9, 7.2, 9.0, 12.5}
	ties := []float64{1, 1, 2, 2, 2, 3, 5, 5, 4, 6}
	for _, tc := range []struct {
		name        string
		f           func(x, y []float64, conf float64) Estimate
		y           []float64
		est, lo, hi float64
	}{
		{"pearson", Pearson, y, 0.938491063486, 0.7549834969, 0.9856802366},
		{"spearman", Spearman, ties, 0.944606427885, 0.7105660091, 0.9904545178},
	} {
		e := tc.f(x, tc.y, 0.95)
		near(t, tc.name, e.Value, tc.est, 1e-9)
		near(t, tc.name+" low", e.Low, tc.lo, 1e-9)
		near(t, tc.name+" high", e.High, tc.hi, 1e-9)
		if e.N != len(x) {
			t.Errorf("%s N = %d", tc.name, e.N)
		}
	}
	if e := Pearson(x[:3], y[:3], 0.95); !math.IsNaN(e.Value) {
		t.Errorf("Pearson with 3 pairs = %v, want NaN", e.Value)
	}
}

func TestRanks(t *testing.T) {
	got := Ranks([]float64{10, 20, 10, 30, 20, 20})
	want := []float64{1.5, 4, 1.5, 6, 4, 4}
	for i := range want {
		near(t, "rank", got[i], want[i], 0)
	}
}

// Mann-Whitney: scipy 1.17.1 mannwhitneyu(a, b, method="asymptotic",
// use_continuity=True) gives U = 57, p = 0.007768118145 (the samples have
// ties, so the tie correction is exercised).
func TestMannWhitney(t *testing.T) {
	a := []float64{3.1, 4.5, 2.2, 8.0, 6.1, 5.5, 7.7, 4.5, 9.2}
	b := []float64{1.0, 2.2, 3.3, 4.5, 2.2, 0.5, 1.1}
	u, p := MannWhitney(a, b)
	near(t, "U", u, 57, 0)
	near(t, "p", p, 0.007768118145, 1e-9)
	// Sorted samples take the merge path: the same figures.
	sa, sb := slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	u, p = MannWhitney(sa, sb)
	near(t, "U (sorted)", u, 57, 0)
	near(t, "p (sorted)", p, 0.007768118145, 1e-9)
}

// TestMergedRankSum: the merge of sorted samples gives the rank sum and tie
// term of the pooled sort, exactly, with ties within and across samples,
// empty and one-sided samples.
func TestMergedRankSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for n := range 200 {
		x := make([]float64, rng.IntN(40))
		y := make([]float64, rng.IntN(40)+n%3)
		for i := range x {
			x[i] = float64(rng.IntN(12)) / 2
		}
		for i := range y {
			y[i] = float64(rng.IntN(12))/2 + float64(n%4)
		}
		slices.Sort(x)
		slices.Sort(y)
		r1, tie := rankSum(x, y)
		m1, mtie := mergedRankSum(x, y)
		if r1 != m1 || tie != mtie {
			t.Fatalf("x=%v y=%v: pooled sort gives rank sum %v, tie term %v; merge %v, %v", x, y, r1, tie, m1, mtie)
		}
	}
	if sortedNumbers([]float64{1, math.NaN()}) || sortedNumbers([]float64{2, 1}) || !sortedNumbers([]float64{1, 1, 2}) {
		t.Error("sortedNumbers: NaN or descending taken as sorted, or ties refused")
	}
}

// Mantel-Haenszel risk difference. One stratum must reduce to the Wald
// difference; the three-strata reference is the Greenland-Robins variance
// in its published form sum(x1(n1-x1)n0^3 + x0(n0-x0)n1^3)/(n1 n0 N^2) /
// (sum n1 n0/N)^2, computed independently in numpy (a different algebraic
// form from the code).
func TestMantelHaenszelRD(t *testing.T) {
	for _, tc := range []struct {
		name        string
		strata      []Stratum
		est, lo, hi float64
		n           int
	}{
		{"one stratum = Wald", []Stratum{{40, 120, 25, 130}}, 0.141025641026, 0.032842323026, 0.249208959025, 250},
		{"three strata", []Stratum{{40, 120, 25, 130}, {15, 60, 20, 110}, {8, 30, 3, 25}}, 0.117073579530, 0.039607859653, 0.194539299406, 475},
		{"empty group skipped", []Stratum{{40, 120, 25, 130}, {3, 7, 0, 0}}, 0.141025641026, 0.032842323026, 0.249208959025, 250},
	} {
		e := MantelHaenszelRD(tc.strata, 0.95)
		near(t, tc.name+" est", e.Value, tc.est, 1e-10)
		near(t, tc.name+" low", e.Low, tc.lo, 1e-10)
		near(t, tc.name+" high", e.High, tc.hi, 1e-10)
		if e.N != tc.n {
			t.Errorf("%s N = %d, want %d", tc.name, e.N, tc.n)
		}
	}
	// Simpson's paradox: within each stratum exposure adds +0.10, but the
	// exposed group sits mostly in the low-rate stratum, so the naive pooled
	// difference is negative. The stratified estimate recovers +0.10.
	strata := []Stratum{{X1: 90, N1: 900, X0: 0, N0: 100}, {X1: 60, N1: 100, X0: 450, N0: 900}}
	mh := MantelHaenszelRD(strata, 0.95)
	naive := NewcombeDiff(150, 1000, 450, 1000, 0.95)
	near(t, "simpson MH", mh.Value, 0.10, 1e-12)
	if naive.Value >= 0 {
		t.Errorf("naive pooled = %v, want negative", naive.Value)
	}
}

func TestQuantile(t *testing.T) {
	x := []float64{7, 1, 3, 5}
	// numpy.quantile(x, [0, .25, .5, .9, 1]) with the default linear method.
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {0.25, 2.5}, {0.5, 4}, {0.9, 6.4}, {1, 7}} {
		near(t, "quantile", Quantile(x, tc.q), tc.want, 1e-12)
	}
	near(t, "median odd", median([]float64{3, 1, 2}), 2, 0)
	near(t, "median empty", median(nil), math.NaN(), 0)
}

func TestBootstrapMedianDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Exponential lead times; y shifted by +5 so the true median difference
	// of x - y is exactly -5.
	x := make([]float64, 800)
	y := make([]float64, 600)
	for i := range x {
		x[i] = rng.ExpFloat64() * 10
	}
	for i := range y {
		y[i] = rng.ExpFloat64()*10 + 5
	}
	e := BootstrapMedianDiff(x, y, 1000, 0.95, 42)
	near(t, "estimate", e.Value, median(x)-median(y), 1e-12)
	if !(e.Low < e.Value && e.Value < e.High) {
		t.Errorf("interval [%v, %v] does not contain estimate %v", e.Low, e.High, e.Value)
	}
	if !(e.Low < -5 && -5 < e.High) || e.High >= 0 {
		t.Errorf("interval [%v, %v] should contain -5 and exclude 0", e.Low, e.High)
	}
	again := BootstrapMedianDiff(x, y, 1000, 0.95, 42)
	if again != e {
		t.Errorf("same seed gave %+v then %+v", e, again)
	}
	// Checks the O(n) resample median against sorting: with every count 1
	// the resample is the sample itself.
	counts := make([]int32, 4)
	near(t, "resample median of constant", resampleMedian(rand.New(rand.NewPCG(3, 4)), []float64{2, 2, 2, 2}, counts), 2, 0)
	if e := BootstrapMedianDiff(nil, y, 10, 0.95, 1); !math.IsNaN(e.Value) {
		t.Errorf("empty x gave %v", e.Value)
	}
}

func TestRules(t *testing.T) {
	var r Rules
	for _, tc := range []struct {
		ns   []int
		want string
	}{
		{[]int{30, 45}, Descriptive},
		{[]int{29, 45}, Insufficient},
		{nil, Insufficient},
	} {
		if got := r.Evidence(Descriptive, tc.ns...); got != tc.want {
			t.Errorf("Evidence(%v) = %s, want %s", tc.ns, got, tc.want)
		}
	}
	if !(Rules{MinN: 5}).Enough(5) {
		t.Error("MinN 5 should accept 5")
	}
}

// median is the median of x (mean of the two middle values for even n);
// NaN for empty x.
func median(x []float64) float64 { return Quantile(x, 0.5) }
