package simulate

import "time"

// Truth is the realised ground truth of one simulation run, written by
// `impact simulate --truth FILE.json`. It is a contract with transform/: every
// count and sum here is what the analyst contract tables (DESIGN.md,
// "Analyst contract") must show after the events are ingested, whatever the
// delivery order, duplicates or invalid lines.
//
// All figures are computed from each entity's FINAL state: the valid event
// with the latest `time` for that entity (no entity has two events with the
// same time, so "latest" is never ambiguous). Invalid lines never count.
// Counts and integer-dollar sums are exact; float rates and means are the
// ratio of the exact figures next to them, so compare those with a small
// tolerance (1e-9). Medians follow ClickHouse quantileExact(0.5): the element
// at 0-based index floor(n/2) of the sorted values (the upper middle for even n).
// Durations are whole seconds (all timestamps have second resolution).
type Truth struct {
	Seed  uint64    `json:"seed"`
	Days  int       `json:"days"`
	Start time.Time `json:"start"` // first instant of the simulated window (End - Days); the legacy finding backlog is older
	End   time.Time `json:"end"`   // no event has a time after End; the "as of" instant of every state-dependent figure
	Scale float64   `json:"scale"` // volume multiplier used

	// Params are the planted effects and mess rates, defaults filled in.
	Params Params `json:"params"`
	// SLADays is the remediation SLA policy (days after detected_at per
	// severity; info has none) used to derive sla_due_at when absent.
	SLADays map[string]int `json:"sla_days"`
	// Teams lists every team with its department (initial catalog) and the
	// planted fix-time factor (median fix time = factor x SLA days).
	Teams []TeamInfo `json:"teams"`
	// Reorgs lists catalog re-organisations: a service moving team and
	// department at Effective (findings detected before stay with the old team).
	Reorgs []Reorg `json:"reorgs"`

	Delivery    DeliveryTruth              `json:"delivery"`
	Deals       DealTruth                  `json:"deals"`
	Reviews     ReviewTruth                `json:"reviews"`
	Deployments DeploymentTruth            `json:"deployments"`
	Tickets     TicketTruth                `json:"tickets"`
	Findings    FindingTruth               `json:"findings"`
	Incidents   IncidentTruth              `json:"incidents"`
	Departments map[string]DepartmentTruth `json:"departments"` // every department, even with zero figures
	// DORA is the truth of dora_changes with the failure window DORAWindow.
	DORA DORATruth `json:"dora"`
}

// TeamInfo describes one team of the simulated organisation.
type TeamInfo struct {
	Team       string  `json:"team"`
	Department string  `json:"department"`
	FixFactor  float64 `json:"fix_factor"` // planted: median days-to-fix = FixFactor x SLA days of the severity
	Services   int     `json:"services"`   // services owned in the initial catalog
}

// Reorg is a catalog.service.upserted event that moves a service.
type Reorg struct {
	ServiceID      string    `json:"service_id"`
	Effective      time.Time `json:"effective_at"`
	FromTeam       string    `json:"from_team"`
	FromDepartment string    `json:"from_department"`
	ToTeam         string    `json:"to_team"`
	ToDepartment   string    `json:"to_department"`
}

// DeliveryTruth describes the lines written (or Kafka messages published).
type DeliveryTruth struct {
	// Lines is every line/message: valid events, duplicates and invalid ones.
	Lines int `json:"lines"`
	// ValidEvents is the number of distinct valid events (distinct source+id),
	// i.e. the rows events_raw must hold.
	ValidEvents int `json:"valid_events"`
	// Duplicates is the number of extra deliveries of an already delivered
	// valid event (byte-identical line, same source+id).
	Duplicates int `json:"duplicates"`
	// Delayed is the number of valid events given a late-delivery delay
	// (hours to days after their time).
	Delayed int `json:"delayed"`
	// OutOfOrder is the number of first deliveries of a valid event that came
	// after a delivery of a later-time event of the same entity.
	OutOfOrder int `json:"out_of_order"`
	// Invalid is the number of planted invalid lines; InvalidByReason splits
	// it by reason: missing_field, wrong_type, bad_timestamp, unknown_type,
	// not_json. Ingest must reject every one (ingest_rejects / DLQ rows).
	Invalid         int            `json:"invalid"`
	InvalidByReason map[string]int `json:"invalid_by_reason"`
	// EventsByType counts distinct valid events per CloudEvents type.
	EventsByType map[string]int `json:"events_by_type"`
	// EntitiesByTable counts distinct entities per typed table
	// (finding_events, gate_events, ... service_events).
	EntitiesByTable map[string]int `json:"entities_by_table"`
}

// Review buckets of deal_facts.review_bucket.
const (
	BucketNone       = "none"       // security_review_required = false
	BucketFast       = "fast"       // turnaround <= 5 days
	BucketMedium     = "medium"     // 5 < turnaround <= 15 days
	BucketSlow       = "slow"       // turnaround > 15 days
	BucketIncomplete = "incomplete" // required, but no completed review with completed_at <= closed_at
)

// Buckets lists the review buckets in display order.
var Buckets = []string{BucketNone, BucketFast, BucketMedium, BucketSlow, BucketIncomplete}

// Segments lists the customer segments.
var Segments = []string{"smb", "mid_market", "enterprise"}

// DealTruth is the truth of deal_facts.
//
// deal_facts has one row per opportunity whose final state has outcome won,
// lost or no_decision. review_turnaround_days = (completed_at - requested_at)
// / 86400 of the review named by the opportunity's security_review_id (final
// review state), when that review has completed_at; review_bucket is none
// when security_review_required is false, incomplete when required and the
// review has no completed_at or completed_at > closed_at, else fast (<= 5),
// medium (> 5, <= 15) or slow (> 15) by turnaround days.
// (The simulator never completes a review after its deal closed.)
type DealTruth struct {
	Opportunities  int `json:"opportunities"`   // distinct opportunity entities
	Open           int `json:"open"`            // final outcome open (not in deal_facts)
	Closed         int `json:"closed"`          // rows of deal_facts
	ReviewRequired int `json:"review_required"` // closed deals with security_review_required = 1

	// ByBucket: closed deals per review_bucket (all five keys present).
	ByBucket map[string]Rate `json:"by_bucket"`
	// BySegment: closed deals per segment (all three keys present).
	BySegment map[string]Rate `json:"by_segment"`
	// BySegmentBucket: segment -> review_bucket -> closed deals (all keys present).
	BySegmentBucket map[string]map[string]Rate `json:"by_segment_bucket"`
	// ByLandmarkBucket and BySegmentLandmarkBucket: the same by
	// landmark_bucket, what was known 15 days after the review request:
	// none (no review required); incomplete when there is no review record;
	// fast (<= 5 days) or medium (<= 15 days) when completed_at <= closed_at;
	// else slow when closed_at > requested_at + 15 days (pending at the
	// landmark while the deal was open), else incomplete (closed before the
	// landmark without a completed review). The win-rate figures use these.
	ByLandmarkBucket        map[string]Rate            `json:"by_landmark_bucket"`
	BySegmentLandmarkBucket map[string]map[string]Rate `json:"by_segment_landmark_bucket"`
	// ByOutcome counts closed deals per outcome (won, lost, no_decision).
	ByOutcome map[string]int `json:"by_outcome"`

	// AmountUSD is the sum of amount_usd over closed deals (whole dollars).
	AmountUSD float64 `json:"amount_usd"`
	// RevenueLostSecurityUSD is the sum of amount_usd over closed deals with
	// outcome lost and loss_reason security; LostSecurity counts them.
	RevenueLostSecurityUSD float64            `json:"revenue_lost_security_usd"`
	LostSecurity           int                `json:"lost_security"`
	RevenueLostBySegment   map[string]float64 `json:"revenue_lost_security_by_segment"`

	// FastMinusSlowPooled = ByLandmarkBucket[fast].WinRate -
	// ByLandmarkBucket[slow].WinRate.
	FastMinusSlowPooled float64 `json:"fast_minus_slow_pooled"`
	// FastMinusSlowStratified is the Mantel-Haenszel risk difference over
	// segments of the landmark buckets: sum_s w_s (p_fast,s - p_slow,s) /
	// sum_s w_s with w_s = n_fast,s * n_slow,s / (n_fast,s + n_slow,s)
	// (segments with an empty bucket get weight 0). The planted value is
	// Params.SlowReviewPenalty.
	FastMinusSlowStratified float64 `json:"fast_minus_slow_stratified"`
	// CycleSecondsByBucket is the sum over closed deals of closed_at -
	// created_at in seconds, per review bucket (metric 4: mean cycle days =
	// value / 86400 / ByBucket[b].N).
	CycleSecondsByBucket map[string]int64 `json:"cycle_seconds_by_bucket"`
}

// Rate counts closed deals of one group. WinRate = Won / N (no_decision
// counts in N), 0 when N = 0.
type Rate struct {
	N          int     `json:"n"`
	Won        int     `json:"won"`
	Lost       int     `json:"lost"`
	NoDecision int     `json:"no_decision"`
	WinRate    float64 `json:"win_rate"`
}

// ReviewTruth covers customer security reviews (review_events final states).
type ReviewTruth struct {
	Reviews   int `json:"reviews"`   // distinct review entities
	Completed int `json:"completed"` // final status completed (completed_at set)
	// TurnaroundSeconds is the sum of completed_at - requested_at over
	// completed reviews; TurnaroundMedianDays its quantileExact(0.5) in days.
	TurnaroundSeconds    int64   `json:"turnaround_seconds"`
	TurnaroundMedianDays float64 `json:"turnaround_median_days"`
}

// DeploymentTruth is the truth of deployment_facts.
//
// One row per deployment entity. lead_time_hours = (finished_at -
// first_commit_at) / 3600 when both are set in the final state.
// gate_blocked = 1 when some gate run (gate_events final state) for the same
// service_id and commit_sha has result = fail and blocking = 1. Every
// simulated deployment has a commit_sha unique to it and a first_commit_at.
type DeploymentTruth struct {
	Deployments int            `json:"deployments"` // rows of deployment_facts
	Finished    int            `json:"finished"`    // finished_at set
	ByStatus    map[string]int `json:"by_status"`   // final status
	ByTrigger   map[string]int `json:"by_trigger"`
	// ByEnvironment counts deployments per environment.
	ByEnvironment map[string]int `json:"by_environment"`
	GateBlocked   int            `json:"gate_blocked"` // deployments with gate_blocked = 1

	GateRuns         int            `json:"gate_runs"`           // distinct gate runs (run_id)
	GateRunsByResult map[string]int `json:"gate_runs_by_result"` // pass, fail, waived
	// GateBlockingFails counts runs with result fail and blocking = 1;
	// GateBlockingWaived counts runs with result waived and blocking = 1.
	GateBlockingFails  int `json:"gate_blocking_fails"`
	GateBlockingWaived int `json:"gate_blocking_waived"`

	// LeadTimeBlocked / LeadTimeUnblocked: deployments with a lead time,
	// split by gate_blocked.
	LeadTimeBlocked   LeadTime `json:"lead_time_blocked"`
	LeadTimeUnblocked LeadTime `json:"lead_time_unblocked"`
	// GateWaitSeconds is the sum of security_gate_wait_seconds over all
	// deployments (0 for unblocked ones).
	GateWaitSeconds int64 `json:"gate_wait_seconds"`
	// SecurityFix counts deployments with trigger security_fix (each names
	// the finding it fixes in fixes_finding_ids; finding fixed_at = the
	// deployment's finished_at).
	SecurityFix int `json:"security_fix"`
	// SecurityFixLead: over security_fix deployments to production that
	// succeeded, for each finding named in fixes_finding_ids, finished_at -
	// the finding's detected_at (metric 11: finding opened -> the
	// deployment that shipped its fix).
	SecurityFixLead LeadTime `json:"security_fix_lead"`
}

// LeadTime summarises lead times (finished_at - first_commit_at).
type LeadTime struct {
	N           int     `json:"n"`
	Seconds     int64   `json:"seconds"`      // sum of lead times in seconds
	MeanHours   float64 `json:"mean_hours"`   // Seconds / N / 3600
	MedianHours float64 `json:"median_hours"` // quantileExact(0.5) of lead_time_hours
}

// TicketTruth is the truth of ticket_facts.
//
// One row per ticket. after_incident_30d = 1 when some incident (final
// state) lists the ticket's account_id in affected_account_ids and
// created_at - 30 days <= detected_at <= created_at (closed interval, seconds).
// csat_score is the final state's csat_score (null when not rated).
type TicketTruth struct {
	Tickets                      int `json:"tickets"`
	AfterIncident30d             int `json:"after_incident_30d"`
	SecurityRelated              int `json:"security_related"`
	SecurityRelatedAfterIncident int `json:"security_related_after_incident"`
	Solved                       int `json:"solved"` // solved_at set
	Rated                        int `json:"rated"`  // csat_score set
	// CSATAfterIncident: rated tickets with after_incident_30d = 1;
	// CSATBaseline: rated tickets with after_incident_30d = 0.
	CSATAfterIncident Mean `json:"csat_after_incident"`
	CSATBaseline      Mean `json:"csat_baseline"`
	// CSATAffectedBaseline: rated tickets with after_incident_30d = 0 of
	// accounts that appear in some incident's affected_account_ids (the
	// accounts' own baseline, metric 12).
	CSATAffectedBaseline Mean `json:"csat_affected_baseline"`
}

// Mean is a count, a sum and their ratio (0 when N = 0).
type Mean struct {
	N    int     `json:"n"`
	Sum  float64 `json:"sum"`
	Mean float64 `json:"mean"`
}

// FindingTruth is the truth of the findings table.
//
// One row per finding. team and department come from the catalog as of
// detection: the catalog.service.upserted state of the finding's service
// with the latest effective_at <= detected_at. sla_due_at is the event's
// sla_due_at when present, else detected_at + SLADays[severity] days (null
// for info). days_to_fix = (fixed_at - detected_at) / 86400 when status is
// fixed. within_sla: status fixed -> fixed_at <= sla_due_at; status open ->
// 0 when sla_due_at < End (overdue as of End), null when not yet due;
// dismissed -> 0 when dismissed_at > sla_due_at (dismissed when already
// overdue), else null; no sla_due_at -> null.
type FindingTruth struct {
	Findings int `json:"findings"`
	// BySeverityStatus: severity -> status -> count (all keys present).
	BySeverityStatus map[string]map[string]int `json:"by_severity_status"`
	// ByTeam and ByDepartment: SLA figures per team / department as of detection.
	ByTeam       map[string]SLA `json:"by_team"`
	ByDepartment map[string]SLA `json:"by_department"`
	// SecurityDebt: open findings of severity high or critical with
	// detected_at < End - 365 days.
	SecurityDebt int `json:"security_debt"`
	// Reopened counts findings that have a security.finding.reopened event.
	Reopened int `json:"reopened"`
	// WithSLADueAt counts findings whose events carry sla_due_at (the rest
	// derive it from the policy).
	WithSLADueAt int `json:"with_sla_due_at"`
}

// SLA is the remediation figure of one team or department.
type SLA struct {
	Findings  int `json:"findings"`
	Open      int `json:"open"`
	Fixed     int `json:"fixed"`
	Dismissed int `json:"dismissed"`
	Within    int `json:"within_sla"`   // within_sla = 1
	Breached  int `json:"breached_sla"` // within_sla = 0 (fixed late or open and overdue)
	NullSLA   int `json:"null_sla"`     // within_sla null
	// Compliance = Within / (Within + Breached), 0 when both are 0.
	Compliance float64 `json:"compliance"`
	// FixSeconds is the sum of fixed_at - detected_at over fixed findings.
	FixSeconds int64 `json:"fix_seconds"`
}

// IncidentTruth covers security incidents.
type IncidentTruth struct {
	Incidents int `json:"incidents"`
	Resolved  int `json:"resolved"` // final status resolved
	// CostUSD is the sum of cost_usd over incidents whose final state has
	// it; UnattributedCostUSD the part of incidents without
	// contributing_departments (charged to nobody).
	CostUSD             float64 `json:"cost_usd"`
	UnattributedCostUSD float64 `json:"unattributed_cost_usd"`
	// AffectedAccounts counts distinct accounts in any affected_account_ids.
	AffectedAccounts int `json:"affected_accounts"`
}

// DepartmentTruth is one department's cost of risk and exceptions, over the
// whole run (department_scorecard summed over months).
type DepartmentTruth struct {
	// IncidentCostUSD: sum over incidents with cost_usd of cost_usd / k for
	// each incident whose final contributing_departments (k entries) names
	// this department. Simulated costs are multiples of 60 USD, so the split
	// is exact.
	IncidentCostUSD float64 `json:"incident_cost_usd"`
	Incidents       int     `json:"incidents"` // incidents it contributed to
	// VendorAssessmentCostUSD / VendorMonitoringCostUSD: sums of
	// assessment_cost_usd / annual_monitoring_cost_usd over the final states
	// of the vendor assessments this department requested (where present).
	VendorAssessmentCostUSD float64 `json:"vendor_assessment_cost_usd"`
	VendorMonitoringCostUSD float64 `json:"vendor_monitoring_cost_usd"`
	VendorAssessments       int     `json:"vendor_assessments"`
	// VendorAssessmentsCompleted counts assessments with completed_at;
	// VendorCycleSeconds sums their completed_at - requested_at (metric 14).
	VendorAssessmentsCompleted int   `json:"vendor_assessments_completed"`
	VendorCycleSeconds         int64 `json:"vendor_cycle_seconds"`
	// CostOfRiskUSD = IncidentCostUSD + VendorAssessmentCostUSD + VendorMonitoringCostUSD.
	CostOfRiskUSD float64 `json:"cost_of_risk_usd"`
	// PolicyExceptions: opened (distinct exception entities) and still open
	// (resolved_at absent in the final state) as of End.
	PolicyExceptions     int `json:"policy_exceptions"`
	PolicyExceptionsOpen int `json:"policy_exceptions_open"`
	// PolicyExceptionResolvedSeconds sums resolved_at - opened_at over the
	// resolved ones (metric 16: how long exceptions stay open).
	PolicyExceptionResolvedSeconds int64 `json:"policy_exception_resolved_seconds"`
}

// DORAWindow is the change-failure window the truth uses: transform's
// default (transform.DefaultDORAWindow; a test keeps them equal).
const DORAWindow = 24 * time.Hour

// DORATruth is the truth of dora_changes: one row per change, a production
// deployment that succeeded (finished_at set) with any trigger but
// rollback. A failure signal is a production rollback or hotfix deployment
// of the same service (at its started_at) or a security incident
// affecting the service (at its detected_at); each signal marks the
// latest change of its service that finished before it, if no more than
// DORAWindow before it (ties: the larger deployment_id). A change with a
// signal failed; its first signal (by time, then id) gives the kind and
// the restore time: that deployment's finished_at when it succeeded, the
// incident's resolved_at when resolved; restore = that - the change's
// finished_at. Groups are keyed "blocked" and "unblocked" (gate_blocked).
type DORATruth struct {
	WindowSeconds int64                           `json:"window_seconds"`
	Overall       map[string]DORAGroup            `json:"overall"`
	ByDepartment  map[string]map[string]DORAGroup `json:"by_department"` // owner as of the change's start
	ByService     map[string]map[string]DORAGroup `json:"by_service"`
}

// DORAGroup sums the changes of one group.
type DORAGroup struct {
	Changes          int            `json:"changes"`
	Failures         int            `json:"failures"`
	FailuresBySignal map[string]int `json:"failures_by_signal"` // rollback, hotfix, incident
	Restored         int            `json:"restored"`           // failures with a restore time
	RestoreSeconds   int64          `json:"restore_seconds"`
	LeadTimes        int            `json:"lead_times"` // changes with first_commit_at
	LeadSeconds      int64          `json:"lead_seconds"`
	// SecurityFixes: security_fix changes; SecurityFixSeconds sums their
	// finished_at - the earliest detected_at of the findings they fix.
	SecurityFixes      int   `json:"security_fixes"`
	SecurityFixSeconds int64 `json:"security_fix_seconds"`
}
