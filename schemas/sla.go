package schemas

import "time"

// SLAPolicy is a remediation SLA policy: how long after detection a finding
// of each severity must be fixed. A zero duration means no SLA. Version is
// recorded with every sla_due_at derived from the policy, so a changed
// policy never silently rewrites history.
type SLAPolicy struct {
	Version                           string
	Critical, High, Medium, Low, Info time.Duration
}

const day = 24 * time.Hour

// maxDateTime is the last instant ClickHouse DateTime (UInt32 seconds) holds.
var maxDateTime = time.Unix(1<<32-1, 0).UTC()

// DefaultSLAPolicy is the default policy of the design brief.
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

