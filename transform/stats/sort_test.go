package stats

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortByValue: the radix sort orders items as a stable sort comparing
// the keys with cmp.Compare does: negative, positive, infinite and tied
// keys, NaNs (compared instead), any length.
func TestSortByValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type item struct {
		k   float64
		pos int
	}
	draws := []func() float64{
		func() float64 { return float64(rng.IntN(20) - 10) }, // ties, negatives, zero
		func() float64 { return rng.NormFloat64() * 1e6 },
		func() float64 { return math.Ldexp(rng.Float64(), rng.IntN(2000)-1000) }, // every exponent
		func() float64 { return []float64{math.Inf(-1), math.Inf(1), 1, -1}[rng.IntN(4)] },
		func() float64 { return []float64{math.NaN(), 0, 1}[rng.IntN(3)] },
	}
	for _, n := range []int{0, 1, 2, 100, 5000} {
		for d, draw := range draws {
			items := make([]item, n)
			for i := range items {
				items[i] = item{draw(), i}
			}
			want := slices.Clone(items)
			slices.SortStableFunc(want, func(a, b item) int { return cmp.Compare(a.k, b.k) })
			SortByValue(items, func(it item) float64 { return it.k })
			if !slices.EqualFunc(items, want, func(a, b item) bool { return a.pos == b.pos }) {
				t.Fatalf("%d items of draw %d: not the stable order", n, d)
			}
		}
	}
}
