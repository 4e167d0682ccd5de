package stats

import (
	"cmp"
	"math"
	"slices"
)

// SortByValue sorts items stably by a float64 value, ascending, as
// slices.SortStableFunc comparing the values with cmp.Compare would (but
// -0 before +0), in linear time: a least-significant-digit radix sort of
// the values' bits mapped to unsigned integers in the floats' order. The
// procedures here sort their samples, and callers that sort once for
// several of them (impact_stats sorts a few million values per refresh)
// pass them sorted; a comparison sort of that many was a large part of a
// refresh's CPU. Values with a NaN are compared instead.
func SortByValue[T any](items []T, value func(T) float64) {
	const bits = 11 // 2048 buckets a pass: six passes of 64 bits
	type kv struct {
		k uint64
		i int32
	}
	if len(items) < 2 {
		return
	}
	a, b := make([]kv, len(items)), make([]kv, len(items))
	for i, it := range items {
		f := value(it)
		if math.IsNaN(f) {
			slices.SortStableFunc(items, func(x, y T) int { return cmp.Compare(value(x), value(y)) })
			return
		}
		k := math.Float64bits(f)
		if k>>63 == 1 {
			k = ^k // negative: larger magnitude first
		} else {
			k |= 1 << 63
		}
		a[i] = kv{k, int32(i)}
	}
	var count [1 << bits]int
	for shift := 0; shift < 64; shift += bits {
		clear(count[:])
		for _, x := range a {
			count[x.k>>shift&(1<<bits-1)]++
		}
		if count[a[0].k>>shift&(1<<bits-1)] == len(a) {
			continue // every key has this digit: the pass would move nothing
		}
		pos := 0
		for d, n := range count {
			count[d] = pos
			pos += n
		}
		for _, x := range a {
			d := x.k >> shift & (1<<bits - 1)
			b[count[d]] = x
			count[d]++
		}
		a, b = b, a
	}
	sorted := make([]T, len(items))
	for j, x := range a {
		sorted[j] = items[x.i]
	}
	copy(items, sorted)
}
