package transform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/stats"
)

// TestOptionsValidate: zero values are the defaults; a negative or
// nonsensical value is an error naming its field.
func TestOptionsValidate(t *testing.T) {
	dial := func(context.Context, string) (driver.Conn, error) { return nil, nil }
	tests := []struct {
		name    string
		opts    transform.Options
		wantErr string // "" = valid
	}{
		{name: "zero value", opts: transform.Options{}},
		{name: "all set", opts: transform.Options{Overlap: time.Minute, Cluster: "c", Dial: dial, SLA: transform.DefaultSLAPolicy, StatementThreads: 4,
			Stats: transform.StatsOptions{Options: stats.Options{Rules: stats.Rules{MinN: 10}, Confidence: 0.9, Resamples: 500, Seed: 3}}}},
		{name: "negative overlap", opts: transform.Options{Overlap: -time.Second}, wantErr: "Overlap -1s is negative"},
		{name: "negative statement threads", opts: transform.Options{StatementThreads: -1}, wantErr: "StatementThreads -1 is negative"},
		{name: "cluster without dial", opts: transform.Options{Cluster: "c"}, wantErr: "Dial is nil"},
		{name: "SLA without version", opts: transform.Options{SLA: transform.SLAPolicy{High: time.Hour}}, wantErr: "SLA.Version is empty"},
		{name: "negative SLA", opts: transform.Options{SLA: transform.SLAPolicy{Version: "v", Medium: -time.Hour}}, wantErr: "SLA.Medium -1h0m0s is negative"},
		{name: "confidence 1", opts: transform.Options{Stats: transform.StatsOptions{Options: stats.Options{Confidence: 1}}}, wantErr: "Stats: stats options: Confidence 1 is not in (0, 1)"},
		{name: "confidence 95", opts: transform.Options{Stats: transform.StatsOptions{Options: stats.Options{Confidence: 95}}}, wantErr: "Confidence 95"},
		{name: "negative resamples", opts: transform.Options{Stats: transform.StatsOptions{Options: stats.Options{Resamples: -1}}}, wantErr: "Resamples -1 is negative"},
		{name: "change without a date", opts: transform.Options{Stats: transform.StatsOptions{Changes: []transform.Change{{Name: "automation"}}}}, wantErr: `Changes[0] "automation": want a name and a date`},
		{name: "negative min n", opts: transform.Options{Stats: transform.StatsOptions{Options: stats.Options{Rules: stats.Rules{MinN: -5}}}}, wantErr: "Rules.MinN -5 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q (\"\": valid)", err, tt.wantErr)
			}
			if tt.wantErr == "" {
				return
			}
			// Plan refuses the same options (it needs no Dial).
			if _, err := transform.Plan(tt.opts, transform.Full); (err == nil) != (tt.name == "cluster without dial") {
				t.Errorf("Plan error %v", err)
			}
		})
	}
}
