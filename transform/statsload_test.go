package transform

import (
	"math"
	"slices"
	"testing"
)

// TestFloatList: the comma-joined arrays read back as the float64s
// ClickHouse wrote (toString writes the shortest form that reads back to
// the same value: exponents, long integers, signed zeros); a bad element
// is an error naming it.
func TestFloatList(t *testing.T) {
	for in, want := range map[string][]float64{
		"":    nil,
		"0.1": {0.1},
		"0.3333333333333333,1e-7,123456789012345680000,0.000023148148148148147,-0,1e300,0.30000000000000004": {
			1.0 / 3, 1e-7, 123456789012345680000, 2.0 / 86400, math.Copysign(0, -1), 1e300, 0.30000000000000004},
		"14.288935185185185,inf,-inf": {float64(1234567-3) / 86400, math.Inf(1), math.Inf(-1)},
	} {
		got, err := floatList(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !slices.EqualFunc(got, want, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"1,,2", "1,x", ","} {
		if got, err := floatList(in); err == nil {
			t.Errorf("%q: %v, want an error", in, got)
		}
	}
}
