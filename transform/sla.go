package transform

import (
	"fmt"
	"strings"
	"time"
)

// SLAPolicy is a remediation SLA policy: how long after detection a finding
// of each severity must be fixed. A zero duration means no SLA.
//
// The transform is the one owner of the policy: ingest stores sla_due_at
// only when the source sent it (a pentest report's contractual date, a
// ticket's due date), and the findings model derives every other due date
// from the policy of the refresh. A changed policy (see Version) rebuilds
// findings, within_sla and everything computed from them.
type SLAPolicy struct {
	// Version names the policy; it is part of the findings model's
	// version, so a new name alone forces a rebuild.
	Version                           string
	Critical, High, Medium, Low, Info time.Duration
}

const day = 24 * time.Hour

// DefaultSLAPolicy is the default policy of the design brief: critical 15
// days, high 30, medium 90, low 180, info none.
var DefaultSLAPolicy = SLAPolicy{
	Version:  "default-v1",
	Critical: 15 * day,
	High:     30 * day,
	Medium:   90 * day,
	Low:      180 * day,
}

// For returns the SLA for a severity and whether there is one.
func (p SLAPolicy) For(severity string) (time.Duration, bool) {
	var d time.Duration
	switch severity {
	case "critical":
		d = p.Critical
	case "high":
		d = p.High
	case "medium":
		d = p.Medium
	case "low":
		d = p.Low
	case "info":
		d = p.Info
	}
	return d, d > 0
}

// Validate names the first bad field: durations must not be negative.
func (p SLAPolicy) Validate() error {
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		if d, _ := p.For(s); d < 0 {
			return fmt.Errorf("sla policy %s: %s is negative (%s)", p.Version, s, d)
		}
	}
	return nil
}

// ParseSLAPolicy reads a policy written as "critical=15d,high=30d,
// medium=90d,low=180d" (days with d, or any Go duration; a severity left
// out has no SLA). The version is the text itself unless version is set.
func ParseSLAPolicy(s, version string) (SLAPolicy, error) {
	p := SLAPolicy{Version: version}
	if p.Version == "" {
		p.Version = "custom:" + s
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return SLAPolicy{}, fmt.Errorf("sla policy %q: %q is not severity=duration", s, part)
		}
		var d time.Duration
		if n, ok := strings.CutSuffix(v, "d"); ok {
			var days int
			if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n {
				return SLAPolicy{}, fmt.Errorf("sla policy %q: %s: %q is not a whole number of days", s, k, v)
			}
			d = time.Duration(days) * day
		} else {
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				return SLAPolicy{}, fmt.Errorf("sla policy %q: %s: %w", s, k, err)
			}
		}
		switch k {
		case "critical":
			p.Critical = d
		case "high":
			p.High = d
		case "medium":
			p.Medium = d
		case "low":
			p.Low = d
		case "info":
			p.Info = d
		default:
			return SLAPolicy{}, fmt.Errorf("sla policy %q: unknown severity %q (critical, high, medium, low, info)", s, k)
		}
	}
	return p, p.Validate()
}
