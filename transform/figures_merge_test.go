package transform

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMergeRuns: merging sorted runs gives every time once, in
// Kaplan-Meier's order (by time, events before censorings at equal
// times), with its run's observed flag.
func TestMergeRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, nRuns := range []int{0, 1, 2, 3, 7, 16} {
		var runs []timeRun
		type pair struct {
			t   float64
			obs bool
		}
		var want []pair
		for range nRuns {
			r := timeRun{obs: rng.IntN(2) == 0}
			for range rng.IntN(20) {
				r.t = append(r.t, float64(rng.IntN(10))) // many ties
			}
			slices.Sort(r.t)
			for _, v := range r.t {
				want = append(want, pair{v, r.obs})
			}
			runs = append(runs, r)
		}
		slices.SortFunc(want, func(a, b pair) int {
			switch {
			case a.t != b.t:
				if a.t < b.t {
					return -1
				}
				return 1
			case a.obs == b.obs:
				return 0
			case a.obs:
				return -1
			}
			return 1
		})
		times, obs := mergeRuns(runs)
		if len(times) != len(want) || len(obs) != len(want) {
			t.Fatalf("%d runs: %d times, %d flags, want %d", nRuns, len(times), len(obs), len(want))
		}
		for i, w := range want {
			if times[i] != w.t || obs[i] != w.obs {
				t.Fatalf("%d runs: element %d is (%v, %v), want (%v, %v)", nRuns, i, times[i], obs[i], w.t, w.obs)
			}
		}
	}
}
