package stats

import "fmt"

// Options are the settings a published figure is computed with, shared by
// impact_stats (transform) and the executive brief. The zero value uses
// DefaultConfidence intervals, DefaultMinN, DefaultResamples bootstrap
// replicates and seed 1.
type Options struct {
	Rules      Rules
	Confidence float64 // interval level, in (0, 1); 0 means DefaultConfidence
	Resamples  int     // bootstrap replicates; 0 means DefaultResamples
	Seed       uint64  // bootstrap seed; 0 means 1
}

// Validate names the first bad field: a negative MinN or Resamples, or a
// Confidence outside (0, 1), is an error rather than silently a default.
func (o Options) Validate() error {
	switch {
	case o.Rules.MinN < 0:
		return fmt.Errorf("stats options: Rules.MinN %d is negative", o.Rules.MinN)
	case o.Confidence != 0 && !(o.Confidence > 0 && o.Confidence < 1): // NaN fails too
		return fmt.Errorf("stats options: Confidence %v is not in (0, 1)", o.Confidence)
	case o.Resamples < 0:
		return fmt.Errorf("stats options: Resamples %d is negative", o.Resamples)
	}
	return nil
}
