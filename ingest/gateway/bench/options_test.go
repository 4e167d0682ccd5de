package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestOptionsValidate: zero values are the defaults; a negative value is an
// error naming its field, returned before anything starts.
func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string // "" = valid
	}{
		{"zero", Options{}, ""},
		{"set", Options{Requests: 10, Concurrency: 2, MaxDuration: time.Second, Linger: time.Millisecond}, ""},
		{"negative requests", Options{Requests: -1}, "Requests -1"},
		{"negative concurrency", Options{Concurrency: -8}, "Concurrency -8"},
		{"negative duration", Options{MaxDuration: -time.Second}, "MaxDuration -1s"},
		{"negative linger", Options{Linger: -time.Millisecond}, "Linger -1ms"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
		if tt.want != "" {
			if _, err := Run(context.Background(), tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Run = %v, want the Validate error", tt.name, err)
			}
		}
	}
}
