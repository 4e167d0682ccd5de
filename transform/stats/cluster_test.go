package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The reference values in this file come from statsmodels 0.15.0 and scipy
// 1.17.1 (testdata/reference.py prints the data sets and every value; it is
// not run by the tests).

// 69 observations in 25 clusters (accounts), three strata; cluster 24
// spans strata 0 and 2.
var clusterData = []Obs{
	{1, false, 0, 0}, {1, true, 0, 0}, {1, false, 0, 0}, {1, false, 0, 0}, {0, false, 0, 1}, {1, false, 0, 1},
	{0, true, 0, 1}, {1, true, 0, 1}, {1, false, 0, 1}, {1, true, 0, 2}, {1, true, 0, 2}, {1, true, 0, 3},
	{1, false, 0, 4}, {1, true, 0, 4}, {1, true, 0, 4}, {1, true, 0, 4}, {1, true, 0, 4}, {1, false, 0, 5},
	{1, true, 0, 6}, {1, true, 0, 7}, {0, true, 0, 7}, {1, true, 0, 7}, {0, true, 0, 7}, {1, true, 1, 8},
	{0, false, 1, 9}, {0, false, 1, 9}, {0, false, 1, 10}, {0, false, 1, 10}, {0, false, 1, 10}, {0, false, 1, 11},
	{0, false, 1, 11}, {0, true, 1, 12}, {1, false, 1, 12}, {0, true, 1, 13}, {1, true, 1, 13}, {1, true, 1, 14},
	{0, false, 1, 15}, {0, false, 1, 15}, {0, false, 1, 15}, {0, false, 2, 16}, {0, true, 2, 16}, {1, false, 2, 16},
	{0, true, 2, 16}, {0, true, 2, 16}, {1, false, 2, 17}, {1, false, 2, 17}, {1, false, 2, 18}, {0, true, 2, 18},
	{0, false, 2, 18}, {1, true, 2, 18}, {0, false, 2, 19}, {0, false, 2, 19}, {0, true, 2, 19}, {0, false, 2, 19},
	{0, true, 2, 19}, {0, false, 2, 20}, {0, false, 2, 20}, {0, false, 2, 21}, {1, false, 2, 21}, {0, false, 2, 22},
	{1, true, 2, 22}, {1, false, 2, 22}, {0, false, 2, 23}, {0, false, 2, 23}, {1, false, 2, 23}, {1, true, 0, 24},
	{1, false, 2, 24}, {1, false, 0, 24}, {0, true, 2, 24},
}

// ClusterDiff and ClusterStratifiedDiff against statsmodels
// smf.ols("y ~ x" / "y ~ x + C(s)").fit(cov_type="cluster",
// cov_kwds={"groups": c}, use_t=True): coefficient, standard error and
// 95% interval of x, t on G-1 = 24 degrees of freedom.
func TestClusterDiff(t *testing.T) {
	for _, tc := range []struct {
		name               string
		e                  Estimate
		est, se, low, high float64
	}{
		{"pooled", ClusterDiff(clusterData, 0.95), 0.16410256410256402, 0.13096557557706254, -0.1061970989537217, 0.43440222715884974},
		{"stratified", ClusterStratifiedDiff(clusterData, 0.95), 0.006253937880661586, 0.11087475774612583, -0.22258031515242319, 0.23508819091374636},
	} {
		near(t, tc.name+" estimate", tc.e.Value, tc.est, 1e-12)
		near(t, tc.name+" se", tc.e.SE, tc.se, 1e-12)
		near(t, tc.name+" low", tc.e.Low, tc.low, 1e-12)
		near(t, tc.name+" high", tc.e.High, tc.high, 1e-12)
		if tc.e.DF != 24 || tc.e.Clusters != 25 || tc.e.N != len(clusterData) {
			t.Errorf("%s: df %v clusters %d n %d, want 24, 25, %d", tc.name, tc.e.DF, tc.e.Clusters, tc.e.N, len(clusterData))
		}
	}
	// The estimates are the plain and the Mantel-Haenszel differences.
	var strata [3]Stratum
	var all Stratum
	for _, o := range clusterData {
		s := &strata[o.Stratum]
		y := int(o.Y)
		for _, s := range []*Stratum{s, &all} {
			if o.X {
				s.X1 += y
				s.N1++
			} else {
				s.X0 += y
				s.N0++
			}
		}
	}
	near(t, "pooled = Newcombe estimate", ClusterDiff(clusterData, 0.95).Value, NewcombeDiff(all.X1, all.N1, all.X0, all.N0, 0.95).Value, 1e-12)
	near(t, "stratified = Mantel-Haenszel", ClusterStratifiedDiff(clusterData, 0.95).Value, MantelHaenszelRD(strata[:], 0.95).Value, 1e-12)

	// With one observation per cluster the cluster-robust variance is
	// HC1: close to the independence variance, never the clustered one.
	var single []Obs
	for i, o := range clusterData {
		o.Cluster = i
		single = append(single, o)
	}
	naive := ClusterDiff(single, 0.95)
	if !(naive.SE < ClusterDiff(clusterData, 0.95).SE) {
		t.Errorf("one observation per cluster: se %v not below the clustered %v", naive.SE, ClusterDiff(clusterData, 0.95).SE)
	}
	// Undefined cases.
	if e := ClusterStratifiedDiff([]Obs{{Y: 1, X: true}, {Y: 0, X: true}}, 0.95); !math.IsNaN(e.Value) {
		t.Errorf("no reference group: %+v", e)
	}
	if e := ClusterDiff([]Obs{{Y: 1, X: true}, {Y: 0, X: false}, {Y: 1, X: false}}, 0.95); !math.IsNaN(e.Low) || e.Clusters != 1 {
		t.Errorf("one cluster: %+v, want an estimate without interval", e)
	}
}

// 129 observations in 30 clusters, the even clusters treated.
var didData = []DiDObs{
	{1, true, false, 0}, {0, true, true, 0}, {0, true, true, 0}, {0, true, false, 0}, {1, true, true, 0},
	{0, false, true, 1}, {0, false, false, 1}, {0, false, false, 1}, {1, false, false, 1}, {0, false, true, 1},
	{1, false, true, 1}, {0, true, false, 2}, {0, true, false, 2}, {1, true, true, 2}, {0, true, true, 2},
	{1, true, true, 2}, {0, true, true, 2}, {0, false, true, 3}, {0, false, false, 3}, {0, false, false, 3},
	{0, false, true, 3}, {1, true, true, 4}, {1, true, true, 4}, {1, true, true, 4}, {1, true, false, 4},
	{0, true, false, 4}, {0, false, false, 5}, {0, false, true, 5}, {0, false, true, 5}, {0, false, true, 5},
	{0, false, true, 5}, {0, false, true, 5}, {0, true, false, 6}, {0, true, false, 6}, {1, true, true, 6},
	{0, true, false, 6}, {0, false, false, 7}, {1, false, false, 7}, {0, true, true, 8}, {1, true, true, 8},
	{0, true, true, 8}, {1, false, true, 9}, {0, false, true, 9}, {1, false, false, 9}, {1, true, true, 10},
	{1, true, false, 10}, {0, true, false, 10}, {1, true, false, 10}, {0, false, true, 11}, {1, false, false, 11},
	{0, false, true, 11}, {0, false, true, 11}, {0, false, false, 11}, {1, false, false, 11}, {1, true, true, 12},
	{0, true, false, 12}, {1, true, true, 12}, {1, true, false, 12}, {0, true, false, 12}, {0, true, false, 12},
	{0, false, false, 13}, {0, false, false, 13}, {1, false, false, 13}, {1, true, false, 14}, {0, true, false, 14},
	{0, false, false, 15}, {0, false, true, 15}, {1, false, true, 15}, {0, false, true, 15}, {0, true, false, 16},
	{0, true, false, 16}, {0, true, true, 16}, {0, true, true, 16}, {1, false, true, 17}, {0, false, true, 17},
	{0, true, true, 18}, {0, true, false, 18}, {0, true, false, 18}, {1, true, true, 18}, {1, true, true, 18},
	{1, true, true, 18}, {0, false, true, 19}, {0, false, true, 19}, {1, false, true, 19}, {0, false, false, 19},
	{0, false, false, 19}, {1, true, false, 20}, {0, true, false, 20}, {1, true, false, 20}, {1, false, true, 21},
	{0, false, false, 21}, {1, true, false, 22}, {0, true, false, 22}, {0, true, true, 22}, {0, true, false, 22},
	{0, true, true, 22}, {0, false, false, 23}, {0, false, true, 23}, {0, false, false, 23}, {1, false, true, 23},
	{1, false, false, 23}, {0, false, false, 23}, {0, true, true, 24}, {1, true, true, 24}, {0, false, false, 25},
	{1, false, true, 25}, {1, false, false, 25}, {0, true, true, 26}, {0, true, false, 26}, {0, true, true, 26},
	{1, true, true, 26}, {1, true, true, 26}, {0, true, false, 26}, {0, false, false, 27}, {0, false, true, 27},
	{0, false, false, 27}, {1, false, false, 27}, {0, true, false, 28}, {1, true, true, 28}, {1, false, false, 29},
	{0, false, true, 29}, {0, false, false, 29}, {1, false, true, 29}, {0, false, false, 29},
}

// DiffInDiff against statsmodels smf.ols("y ~ t * a").fit(cov_type="cluster",
// use_t=True): the t:a coefficient, its standard error and interval.
func TestDiffInDiff(t *testing.T) {
	e := DiffInDiff(didData, 0.95)
	near(t, "did", e.Value, 0.29475806451612874, 1e-12)
	near(t, "did se", e.SE, 0.14727097760909258, 1e-12)
	near(t, "did low", e.Low, -0.006444904315848987, 1e-12)
	near(t, "did high", e.High, 0.5959610333481065, 1e-12)
	if e.DF != 29 || e.Clusters != 30 {
		t.Errorf("df %v clusters %d, want 29, 30", e.DF, e.Clusters)
	}
	if e := DiffInDiff(didData[:5], 0.95); !math.IsNaN(e.Value) {
		t.Errorf("an empty cell must give NaN, got %+v", e)
	}
}

// Breslow-Day against statsmodels StratifiedTable(tables).test_equal_odds
// (adjust=False, and adjust=True for Tarone's correction).
func TestBreslowDay(t *testing.T) {
	for _, tc := range []struct {
		name           string
		strata         []Stratum
		bd, p, tar, tp float64
	}{
		{"segments", []Stratum{{120, 300, 60, 250}, {45, 150, 40, 200}, {20, 60, 30, 200}},
			1.4416035973996042, 0.48636213505413495, 1.440477864899363, 0.4866359689439911},
		{"opposite", []Stratum{{80, 100, 20, 100}, {30, 100, 60, 120}, {15, 40, 15, 40}},
			70.44802575135178, 5.551115123125783e-16, 70.26478260866554, 5.551115123125783e-16},
		{"homogeneous", []Stratum{{50, 100, 30, 100}, {25, 50, 15, 50}, {100, 200, 60, 200}}, 0, 1, 0, 1},
	} {
		bd, p := BreslowDay(tc.strata, false)
		near(t, tc.name+" Breslow-Day", bd, tc.bd, 1e-9)
		near(t, tc.name+" p", p, tc.p, 1e-9)
		tar, tp := BreslowDay(tc.strata, true)
		near(t, tc.name+" Tarone", tar, tc.tar, 1e-9)
		near(t, tc.name+" Tarone p", tp, tc.tp, 1e-9)
	}
	if bd, _ := BreslowDay([]Stratum{{5, 10, 3, 10}}, false); !math.IsNaN(bd) {
		t.Errorf("one stratum: %v, want NaN", bd)
	}
}

// CochranQ against statsmodels combine_effects(effect, variance).q and
// scipy chi2.sf(q, k-1).
func TestCochranQ(t *testing.T) {
	q, p := CochranQ([]float64{0.175, 0.168, 0.14}, []float64{0.0009, 0.0012, 0.0016})
	near(t, "Q", q, 0.5076576576576599, 1e-12)
	near(t, "Q p", p, 0.7758245894850659, 1e-12)
	q, p = CochranQ([]float64{0.30, 0.05, 0.12, -0.02}, []float64{0.002, 0.0015, 0.003, 0.0025})
	near(t, "Q", q, 27.22222222222221, 1e-9)
	near(t, "Q p", p, 5.288427287531836e-06, 1e-12)
	if q, _ := CochranQ([]float64{0.1, math.NaN()}, []float64{0.01, 0.01}); !math.IsNaN(q) {
		t.Errorf("one usable estimate: Q %v, want NaN", q)
	}
}

// MinimumDetectableEffect: Bloom's multiplier (scipy norm.ppf(0.975) +
// norm.ppf(0.8), and t.ppf for df 5, 20, 100) times the standard error;
// for two groups of 200 with unit standard deviation (se 0.1) statsmodels
// NormalIndPower().solve_power(nobs1=200, ratio=1, power=0.8) gives
// d = 0.2801568334667266 (it also counts the other tail, which is
// negligible here).
func TestMinimumDetectableEffect(t *testing.T) {
	for _, tc := range []struct{ df, mult float64 }{
		{0, 2.8015852181129683}, {math.Inf(1), 2.8015852181129683}, {5, 3.4901256158771417},
		{20, 2.9459278869982506}, {100, 2.829201943014568},
	} {
		near(t, "mde multiplier", MinimumDetectableEffect(1, tc.df, 0.95, 0.8), tc.mult, 1e-9)
	}
	near(t, "mde vs NormalIndPower", MinimumDetectableEffect(0.1, 0, 0.95, 0.8), 0.2801568334667266, 1e-5)
	if v := MinimumDetectableEffect(math.NaN(), 0, 0.95, 0.8); !math.IsNaN(v) {
		t.Errorf("NaN se: %v", v)
	}
}

// The cluster bootstrap: reproducible, wider than the independent
// bootstrap when whole clusters shift, and the plain difference of medians
// as its estimate.
func TestClusterBootstrapMedianDiff(t *testing.T) {
	var x, y []float64
	var cx, cy []int
	// 20 services, each with its own level (the service effect); only the
	// even ones have blocking gates, and their blocked deployments are 10
	// hours slower: which services a sample holds moves the blocked median.
	for s := 0; s < 20; s++ {
		level := float64(s%5) * 8
		for j := 0; j < 30; j++ {
			v := level + float64(j%7)
			if s%2 == 0 && j%3 == 0 {
				x = append(x, v+10)
				cx = append(cx, s)
			} else {
				y = append(y, v)
				cy = append(cy, s)
			}
		}
	}
	a := ClusterBootstrapMedianDiff(x, cx, y, cy, 500, 0.95, 7)
	b := ClusterBootstrapMedianDiff(x, cx, y, cy, 500, 0.95, 7)
	if a != b {
		t.Errorf("same seed, different results: %+v %+v", a, b)
	}
	near(t, "estimate", a.Value, median(x)-median(y), 1e-12)
	iid := BootstrapMedianDiff(x, y, 500, 0.95, 7)
	if !(a.High-a.Low > iid.High-iid.Low) || !(a.Low <= a.Value && a.Value <= a.High) {
		t.Errorf("cluster bootstrap [%v, %v] vs independent [%v, %v]", a.Low, a.High, iid.Low, iid.High)
	}
	if a.Clusters != 20 {
		t.Errorf("clusters %d, want 20", a.Clusters)
	}
	if e := ClusterBootstrapMedianDiff(x, cx, nil, nil, 10, 0.95, 1); !math.IsNaN(e.Value) {
		t.Errorf("empty group: %+v", e)
	}
}

// The cluster bootstrap's median of a resample (clusters drawn with
// multiplicities) equals the median of the resample written out, ties and
// empty clusters included.
func TestClusterSampleWeightedMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 300; trial++ {
		g := 1 + r.IntN(8)
		var v []float64
		var c []int
		idx := map[int]int{}
		for k := 0; k < g; k++ {
			idx[k] = k
			for range r.IntN(6) {
				v = append(v, float64(r.IntN(10))) // ties
				c = append(c, k)
			}
		}
		if len(v) == 0 {
			continue
		}
		s := newClusterSample(v, c, func(k int) int { return idx[k] }, g)
		mult := make([]int, g)
		for k := range mult {
			mult[k] = r.IntN(3)
		}
		var written []float64
		for i, x := range v {
			for range mult[c[i]] {
				written = append(written, x)
			}
		}
		got, ok := s.weightedMedian(mult)
		if ok != (len(written) > 0) {
			t.Fatalf("trial %d: ok %v with %d values", trial, ok, len(written))
		}
		if ok && got != median(written) {
			t.Fatalf("trial %d: weighted median %v, median of the resample %v", trial, got, median(written))
		}
	}
}

// TestRenumber: cluster ids are numbered 0..G-1 in id order, by a table
// for dense ids and a map for ids far apart alike.
func TestRenumber(t *testing.T) {
	for _, tc := range []struct {
		cx, cy []int
		want   map[int]int
	}{
		{[]int{3, 1, 3}, []int{7, 1}, map[int]int{1: 0, 3: 1, 7: 2}},
		{[]int{-5, 0}, []int{5}, map[int]int{-5: 0, 0: 1, 5: 2}},
		{[]int{math.MaxInt, math.MinInt}, []int{0}, map[int]int{math.MinInt: 0, 0: 1, math.MaxInt: 2}},
		{[]int{1 << 40, 2}, nil, map[int]int{2: 0, 1 << 40: 1}},
	} {
		idx, g := renumber(tc.cx, tc.cy)
		if g != len(tc.want) {
			t.Errorf("%v %v: %d clusters, want %d", tc.cx, tc.cy, g, len(tc.want))
		}
		for id, want := range tc.want {
			if got := idx(id); got != want {
				t.Errorf("%v %v: id %d numbered %d, want %d", tc.cx, tc.cy, id, got, want)
			}
		}
	}
}
