package brief

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/transform/stats"
)

// TestLoadRefusesBadOptions: Load names a bad statistics setting before it
// reads anything, instead of computing with a silent default.
func TestLoadRefusesBadOptions(t *testing.T) {
	p := Period{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		opts stats.Options
		want string
	}{
		{stats.Options{Confidence: -0.5}, "Confidence -0.5 is not in (0, 1)"},
		{stats.Options{Resamples: -10}, "Resamples -10 is negative"},
		{stats.Options{Rules: stats.Rules{MinN: -1}}, "Rules.MinN -1 is negative"},
	}
	for _, tt := range tests {
		_, err := Load(context.Background(), nil, p, LoadOptions{Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}
