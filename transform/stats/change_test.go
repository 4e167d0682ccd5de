package stats

import (
	"math"
	"testing"
)

func TestChange(t *testing.T) {
	// With Wilson limits, MOVER is Newcombe's hybrid score interval.
	for _, c := range []struct{ x1, n1, x2, n2 int }{{56, 70, 48, 80}, {9, 10, 3, 10}, {0, 25, 4, 30}, {120, 400, 118, 390}} {
		got := Change(Wilson(c.x1, c.n1, 0), Wilson(c.x2, c.n2, 0))
		want := NewcombeDiff(c.x1, c.n1, c.x2, c.n2, 0)
		if math.Abs(got.Value-want.Value) > 1e-12 || math.Abs(got.Low-want.Low) > 1e-12 || math.Abs(got.High-want.High) > 1e-12 {
			t.Errorf("%v: MOVER %v, Newcombe %v", c, got, want)
		}
		if got.N != c.n1+c.n2 {
			t.Errorf("n %d", got.N)
		}
	}
	// Symmetric limits: the root of the summed squared half-widths.
	got := Change(Estimate{Value: 10, Low: 7, High: 13}, Estimate{Value: 6, Low: 2, High: 10})
	if math.Abs(got.Low-(4-5)) > 1e-12 || math.Abs(got.High-(4+5)) > 1e-12 || Distinguishable(got) {
		t.Errorf("symmetric: %+v", got)
	}
	if c := Change(Estimate{Value: 10, Low: 9, High: 11}, Estimate{Value: 6, Low: 5, High: 7}); !Distinguishable(c) {
		t.Errorf("a clear rise is not distinguishable: %+v", c)
	}
	if c := Change(Estimate{Value: 1e6, Low: math.NaN(), High: math.NaN()}, Estimate{Value: 5e5, Low: math.NaN(), High: math.NaN()}); c.Value != 5e5 || !math.IsNaN(c.Low) || Distinguishable(c) {
		t.Errorf("totals without limits: %+v", c)
	}
}
