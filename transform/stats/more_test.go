package stats

import (
	"math"
	"testing"
)

// References from scipy 1.17.1: ttest_1samp(x, 0).confidence_interval(),
// ttest_ind(x, y, equal_var=False) with its confidence_interval(); the
// order-statistic ranks j=5, k=16 computed in numpy from the formula.
func TestMeansAndMedianCI(t *testing.T) {
	x := []float64{12, 3, 7, 25, 9, 14, 2, 30, 8, 11, 5, 19, 6, 21, 4, 17, 13, 10, 27, 1}
	y := []float64{3, 4, 2, 5, 4, 3, 4, 5, 2, 3, 4}
	m := MedianCI(x, 0.95)
	near(t, "median", m.Value, 10.5, 0)
	near(t, "median low", m.Low, 5, 0)
	near(t, "median high", m.High, 19, 0)
	mt := MeanT(x, 0.95)
	near(t, "mean", mt.Value, 12.2, 1e-12)
	near(t, "mean low", mt.Low, 8.2067646100, 1e-9)
	near(t, "mean high", mt.High, 16.1932353900, 1e-9)
	w, p := WelchDiff(x, y, 0.95)
	near(t, "welch", w.Value, 8.6545454545, 1e-9)
	near(t, "welch low", w.Low, 4.6218787372, 1e-9)
	near(t, "welch high", w.High, 12.6872121719, 1e-9)
	near(t, "welch p", p, 0.000230896619, 1e-11)
	if e := MedianCI([]float64{1, 2, 3}, 0.95); !math.IsNaN(e.Low) {
		t.Errorf("n=3 median interval should be undefined, got %v", e.Low)
	}
}

// Kaplan-Meier: the 6-MP arm of Freireich et al. (1963) as analysed by
// Gehan (1965) and in Kleinbaum and Klein, Survival Analysis, ch. 2: the
// median remission time is 23 weeks. ("+" marks censored.)
func TestKaplanMeierQuantile(t *testing.T) {
	times := []float64{6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35}
	obs := []bool{true, true, true, true, true, true, true, true, true, false, false, false, false, false, false, false, false, false, false, false, false}
	near(t, "KM median", KaplanMeierQuantile(times, obs, 0.5), 23, 0)
	// S never falls to 0.1, so the 90th percentile is undefined.
	near(t, "KM p90", KaplanMeierQuantile(times, obs, 0.9), math.NaN(), 0)
	// Without censoring KM is the empirical distribution: the median is the
	// smallest t with F(t) >= 0.5.
	near(t, "uncensored", KaplanMeierQuantile([]float64{4, 1, 3, 2}, []bool{true, true, true, true}, 0.5), 2, 0)
	// Several quantiles from one sort: the same values.
	qs := KaplanMeierQuantiles(times, obs, 0.25, 0.5, 0.9)
	for i, q := range []float64{0.25, 0.5, 0.9} {
		near(t, "KM quantiles", qs[i], KaplanMeierQuantile(times, obs, q), 0)
	}
}

// McKean-Schrader: the same samples as TestMeansAndMedianCI; reference
// computed independently with numpy 2 / scipy 1.17.1 from the published
// formula (c = round((n+1)/2 - z sqrt(n/4)); SE = (X_(n-c+1) - X_(c)) / 2z).
func TestMedianDiffMcKeanSchrader(t *testing.T) {
	x := []float64{12, 3, 7, 25, 9, 14, 2, 30, 8, 11, 5, 19, 6, 21, 4, 17, 13, 10, 27, 1}
	y := []float64{3, 4, 2, 5, 4, 3, 4, 5, 2, 3, 4}
	e := MedianDiffMcKeanSchrader(x, y, 0.95)
	near(t, "estimate", e.Value, 6.5, 1e-12)
	near(t, "low", e.Low, 0.9773194914, 1e-9)
	near(t, "high", e.High, 12.0226805086, 1e-9)
	if e := MedianDiffMcKeanSchrader(x[:3], y, 0.95); !math.IsNaN(e.Value) {
		t.Errorf("n=3 should give NaN, got %v", e.Value)
	}
}
