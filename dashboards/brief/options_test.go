package brief

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLoadRefusesBadOptions: Load names a bad option before it reads
// anything. The brief computes no statistics (it reads impact_stats), so
// its only checked option is Changes: rows a caller computed with the
// transform's code, which must be difference-in-differences figures of a
// named change.
func TestLoadRefusesBadOptions(t *testing.T) {
	p := Period{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		changes []Stat
		want    string
	}{
		{[]Stat{{Metric: "win_rate", Dimension: "change", Value: "automation"}}, `Changes[0] is win_rate/change/"automation"`},
		{[]Stat{{Metric: "win_rate_did", Dimension: "change", Value: "automation"}, {Metric: "win_rate_did_placebo", Dimension: "change"}},
			`Changes[1] is win_rate_did_placebo/change/""`},
	}
	for _, tt := range tests {
		_, err := Load(context.Background(), nil, p, LoadOptions{Changes: tt.changes})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%+v) = %v, want an error containing %q", tt.changes, err, tt.want)
		}
	}
}
