package transform

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestScatter: scatter puts every item with a slot in that slot, each
// slot's items in their order in the input (so sorted input gives sorted
// slots), leaves out items without a slot, and reuses its buffer.
func TestScatter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct{ v, slot int }
	var buf []item
	for _, n := range []int{0, 1, 2, 7, 100, 1000} {
		for _, nSlots := range []int{1, 3, 50} {
			items := make([]item, n)
			for i := range items {
				items[i] = item{rng.IntN(10), rng.IntN(nSlots+1) - 1} // many ties, some left out
			}
			slices.SortStableFunc(items, func(a, b item) int { return a.v - b.v })
			out, off := scatter(items, nSlots, func(it item) int { return it.slot }, buf)
			if len(off) != nSlots+1 || off[0] != 0 || off[nSlots] != len(out) {
				t.Fatalf("%d items, %d slots: offsets %v for %d items out", n, nSlots, off, len(out))
			}
			for s := range nSlots {
				var want []item
				for _, it := range items {
					if it.slot == s {
						want = append(want, it)
					}
				}
				if got := out[off[s]:off[s+1]]; !slices.Equal(got, want) {
					t.Fatalf("%d items, %d slots: slot %d holds %v, want %v", n, nSlots, s, got, want)
				}
			}
			buf = out
		}
	}
}

// TestIndexKeys: keys are numbered in sorted order, each item with its
// key's number.
func TestIndexKeys(t *testing.T) {
	keys := []string{"b", "a", "c", "a", "", "b"}
	k := indexKeys(len(keys), func(i int) string { return keys[i] })
	if want := []string{"", "a", "b", "c"}; !slices.Equal(k.names, want) {
		t.Fatalf("names %q, want %q", k.names, want)
	}
	for i, key := range keys {
		if k.names[k.of[i]] != key {
			t.Errorf("item %d: number %d is %q, want %q", i, k.of[i], k.names[k.of[i]], key)
		}
	}
}
