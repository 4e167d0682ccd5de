package bench_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/secimpact/impact/transform/bench"
)

// TestOptionsValidate: zero values are the defaults; a bad value is an
// error naming its field, returned before any server starts.
func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    bench.Options
		want string // "" = valid
	}{
		{"zero", bench.Options{}, ""},
		{"set", bench.Options{Events: 5000, IncrementalShare: 0.1, Rounds: 5}, ""},
		{"negative events", bench.Options{Events: -1}, "Events -1"},
		{"negative rounds", bench.Options{Rounds: -3}, "Rounds -3"},
		{"share 1", bench.Options{IncrementalShare: 1}, "IncrementalShare 1 is not in [0, 1)"},
		{"share NaN", bench.Options{IncrementalShare: math.NaN()}, "IncrementalShare NaN"},
		{"increments take everything", bench.Options{IncrementalShare: 0.4}, "times Rounds 3 leaves nothing"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
		if tt.want != "" {
			if _, err := bench.Run(context.Background(), tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Run = %v, want the Validate error", tt.name, err)
			}
		}
	}
}
