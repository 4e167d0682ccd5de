package transform

import (
	"fmt"
	"time"
)

// Validate names the first bad field of o. Zero values are the defaults; a
// negative duration is an error, not silently the default.
func (o Options) Validate() error { return o.validate(true) }

// validate checks o; Plan, which connects nowhere, needs no Dial.
func (o Options) validate(connects bool) error {
	switch {
	case o.Overlap < 0:
		return fmt.Errorf("transform options: Overlap %s is negative", o.Overlap)
	case o.StatementThreads < 0:
		return fmt.Errorf("transform options: StatementThreads %d is negative (zero means the server's max_threads shared among concurrent builds)", o.StatementThreads)
	case o.DeltaShare < 0 || o.DeltaShare != o.DeltaShare:
		return fmt.Errorf("transform options: DeltaShare %v is not a share (zero means the default %v)", o.DeltaShare, DefaultDeltaShare)
	case connects && o.Cluster != "" && o.Dial == nil:
		return fmt.Errorf("transform options: Cluster %q is set but Dial is nil (a refresh on a cluster connects to every server)", o.Cluster)
	}
	if o.SLA != (SLAPolicy{}) {
		if o.SLA.Version == "" {
			return fmt.Errorf("transform options: SLA.Version is empty (it is recorded with every due date it derives)")
		}
		for _, f := range []struct {
			name string
			d    time.Duration
		}{{"Critical", o.SLA.Critical}, {"High", o.SLA.High}, {"Medium", o.SLA.Medium}, {"Low", o.SLA.Low}, {"Info", o.SLA.Info}} {
			if f.d < 0 {
				return fmt.Errorf("transform options: SLA.%s %s is negative (zero means no SLA)", f.name, f.d)
			}
		}
	}
	if err := o.Stats.Validate(); err != nil {
		return fmt.Errorf("transform options: Stats: %w", err)
	}
	return nil
}
