package stats

import (
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// MedianCI returns the sample median with the distribution-free
// order-statistic interval (Conover 1999, Practical Nonparametric
// Statistics, 3.2): the j-th and k-th order statistics with
// j = floor(n/2 - z sqrt(n)/2) and k = ceil(1 + n/2 + z sqrt(n)/2), from the
// normal approximation to Binomial(n, 1/2). It needs no distributional
// assumption, which suits skewed durations.
func MedianCI(x []float64, conf float64) Estimate {
	e := Estimate{N: len(x), Method: "median_order_statistic"}
	if len(x) == 0 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	s := x
	if !sortedNumbers(x) { // callers that sort once pass x sorted: no copy
		s = append([]float64(nil), x...)
		sort.Float64s(s)
	}
	n := float64(len(s))
	e.Value = quantileSorted(s, 0.5)
	half := z(conf) * math.Sqrt(n) / 2
	j := int(math.Floor(n/2 - half))    // 1-based rank
	k := int(math.Ceil(1 + n/2 + half)) // 1-based rank
	if j < 1 || k > len(s) {
		e.Low, e.High = math.NaN(), math.NaN()
		return e
	}
	e.Low, e.High = s[j-1], s[k-1]
	return e
}

// MeanT returns the mean with the Student t interval.
func MeanT(x []float64, conf float64) Estimate {
	e := Estimate{N: len(x), Method: "mean_t"}
	if len(x) < 2 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		if len(x) == 1 {
			e.Value = x[0]
		}
		return e
	}
	m, sd := stat.MeanStdDev(x, nil)
	se := sd / math.Sqrt(float64(len(x)))
	t := tq(conf, float64(len(x)-1))
	e.SE, e.DF = se, float64(len(x)-1)
	e.Value, e.Low, e.High = m, m-t*se, m+t*se
	return e
}

// WelchDiff returns mean(x) - mean(y) with the Welch (unequal variances) t
// interval and its two-sided p-value, as scipy.stats.ttest_ind(x, y,
// equal_var=False) computes them.
func WelchDiff(x, y []float64, conf float64) (Estimate, float64) {
	e := Estimate{N: len(x) + len(y), Method: "mean_diff_welch_t"}
	if len(x) < 2 || len(y) < 2 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e, math.NaN()
	}
	mx, vx := stat.MeanVariance(x, nil)
	my, vy := stat.MeanVariance(y, nil)
	ax, ay := vx/float64(len(x)), vy/float64(len(y))
	se := math.Sqrt(ax + ay)
	df := (ax + ay) * (ax + ay) / (ax*ax/float64(len(x)-1) + ay*ay/float64(len(y)-1))
	e.Value = mx - my
	e.SE, e.DF = se, df
	t := tq(conf, df)
	e.Low, e.High = e.Value-t*se, e.Value+t*se
	if se == 0 {
		return e, math.NaN()
	}
	p := 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(e.Value)/se)
	return e, p
}

func tq(conf, df float64) float64 {
	if conf <= 0 || conf >= 1 {
		conf = DefaultConfidence
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - (1-conf)/2)
}

// KaplanMeierQuantile returns the q-quantile (0.5: median) of a time to
// event with right censoring: the smallest time t with estimated survival
// S(t) <= 1-q (Kaplan and Meier 1958). observed[i] is false for censored
// times (a finding still open is censored at its current age), so open
// findings count instead of being dropped. NaN when survival never falls
// to 1-q.
func KaplanMeierQuantile(times []float64, observed []bool, q float64) float64 {
	return KaplanMeierQuantiles(times, observed, q)[0]
}

// KaplanMeierQuantiles returns several quantiles of one Kaplan-Meier
// curve (see KaplanMeierQuantile) from one sort of the times.
func KaplanMeierQuantiles(times []float64, observed []bool, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	for i := range out {
		out[i] = math.NaN()
	}
	// Events before censorings at equal times, the usual convention.
	if !kmSorted(times, observed) { // callers that sort once pass them sorted
		// Sort (time, observed) pairs by value rather than an index
		// slice through a closure: several times faster for a million
		// findings.
		type obs struct {
			t   float64
			obs bool
		}
		s := make([]obs, len(times))
		for i, t := range times {
			s[i] = obs{t, observed[i]}
		}
		slices.SortFunc(s, func(a, b obs) int {
			switch {
			case a.t < b.t:
				return -1
			case a.t > b.t:
				return 1
			case a.obs == b.obs:
				return 0
			case a.obs:
				return -1
			default:
				return 1
			}
		})
		times, observed = make([]float64, len(s)), make([]bool, len(s))
		for i, x := range s {
			times[i], observed[i] = x.t, x.obs
		}
	}
	atRisk := float64(len(times))
	surv := 1.0
	left := len(qs)
	for i := 0; i < len(times) && left > 0; {
		t := times[i]
		var d, c float64
		for i < len(times) && times[i] == t {
			if observed[i] {
				d++
			} else {
				c++
			}
			i++
		}
		if d > 0 {
			surv *= 1 - d/atRisk
			for j, q := range qs {
				if math.IsNaN(out[j]) && surv <= 1-q+1e-12 {
					out[j] = t
					left--
				}
			}
		}
		atRisk -= d + c
	}
	return out
}

// kmSorted tells whether times are in Kaplan-Meier's order, ascending with
// events before censorings at equal times, and hold no NaN.
func kmSorted(times []float64, observed []bool) bool {
	for i := range times {
		if math.IsNaN(times[i]) {
			return false
		}
		if i > 0 && (times[i] < times[i-1] || times[i] == times[i-1] && observed[i] && !observed[i-1]) {
			return false
		}
	}
	return true
}

// MedianDiffMcKeanSchrader returns median(x) - median(y) with a normal
// interval whose standard errors are McKean and Schrader's (1984, Commun
// Stat Simul Comput 13:751) order-statistic estimate of each median's
// standard error, (X_(n-c+1) - X_(c)) / (2 z) with
// c = round((n+1)/2 - z sqrt(n/4)) and z the 97.5% normal quantile. It
// needs no resampling, so it replaces the bootstrap for samples so large
// that resampling would dominate a refresh. NaNs when a group has fewer
// than 4 values.
func MedianDiffMcKeanSchrader(x, y []float64, conf float64) Estimate {
	e := Estimate{N: len(x) + len(y), Method: "median_diff_mckean_schrader"}
	if len(x) < 4 || len(y) < 4 {
		e.Value, e.Low, e.High = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	sx := append([]float64(nil), x...)
	sy := append([]float64(nil), y...)
	sort.Float64s(sx)
	sort.Float64s(sy)
	z975 := z(0.95)
	se := func(s []float64) float64 {
		n := float64(len(s))
		c := int(math.Round((n+1)/2 - z975*math.Sqrt(n/4)))
		if c < 1 {
			c = 1
		}
		return (s[len(s)-c] - s[c-1]) / (2 * z975)
	}
	e.Value = quantileSorted(sx, 0.5) - quantileSorted(sy, 0.5)
	s := math.Sqrt(se(sx)*se(sx) + se(sy)*se(sy))
	zz := z(conf)
	e.Low, e.High = e.Value-zz*s, e.Value+zz*s
	return e
}
