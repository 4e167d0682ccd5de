package dashboards

import "sort"

// Stable dashboard uids: provisioning overwrites by uid and links point at
// them, so they never change.
const (
	UIDCISO       = "impact-ciso"
	UIDSales      = "impact-sales"
	UIDDepartment = "impact-department"
	UIDDelivery   = "impact-delivery"
	UIDTrust      = "impact-trust"
	UIDPipeline   = "impact-pipeline"
)

const (
	nWinRate    = "closed deals per bucket, shown as n_fast and n_slow"
	wilson      = "Wilson 95% score interval per proportion"
	unitPercent = "percentunit"
	unitUSD     = "currencyUSD"
	unitCount   = "none"
	unitDays    = "d"
	unitHours   = "h"
	unitSeconds = "s"
	unitCSAT    = "none"
)

// statColumns are the columns of a panel reading one impact_stats figure.
var statColumns = []string{"estimate_value", "ci_low", "ci_high", "sample_size", "evidence_level"}

// All returns the six impact dashboards in a fixed order.
func All() []Dashboard {
	return []Dashboard{ciso(), sales(), department(), delivery(), trust(), pipeline()}
}

func ciso() Dashboard {
	return Dashboard{
		UID:         UIDCISO,
		Title:       "impact: CISO business impact",
		Description: "Business outcomes associated with security work, each figure with its sample size, interval and evidence level.",
		Panels: []Panel{
			{Title: "Win rate: fast minus slow security reviews", Kind: Stat, Unit: unitPercent, Width: 8,
				Units:    map[string]string{"n_fast": unitCount, "n_slow": unitCount},
				Summary:  "Difference in win rate between deals whose customer security review completed within 5 days and deals where it took more than 15 days; fast reviews are associated with this difference, not shown to cause it.",
				Method:   "won / closed per review bucket from deal_facts (closed in range); difference fast - slow with the Newcombe hybrid score 95% interval built from Wilson bounds",
				N:        nWinRate,
				Evidence: Descriptive,
				SQL:      "ciso/win_rate_diff.sql", Columns: []string{"difference", "ci_low", "ci_high", "n_fast", "n_slow"}},
			{Title: "Revenue lost to security reasons", Kind: Stat, Unit: unitUSD, Width: 8,
				Units:    map[string]string{"share_of_lost_revenue": unitPercent, "deals_lost_to_security": unitCount},
				Summary:  "Amount of deals lost with loss reason 'security' and their share of all lost revenue; the loss reason is recorded by sales and is associated with, not proof of, a security cause.",
				Method:   "sum of amount_usd over deal_facts with outcome lost and loss_reason security, closed in range; share = that / all lost amount_usd",
				N:        "deals_lost_to_security",
				Evidence: Descriptive,
				SQL:      "ciso/revenue_lost_security.sql", Columns: []string{"revenue_lost_usd", "share_of_lost_revenue", "deals_lost_to_security"}},
			{Title: "CSAT after incidents vs affected accounts' baseline", Kind: Stat, Unit: unitCSAT, Width: 8,
				Units:    map[string]string{"n_after_incident": unitCount, "n_baseline": unitCount},
				Summary:  "Mean CSAT (1-5) of tickets created within 30 days after a security incident affected the account, against the other rated tickets of accounts ever affected by an incident; incidents are associated with the difference.",
				Method:   "mean csat_score of rated ticket_facts (created in range) with after_incident_30d = 1 minus the mean of those with after_incident_30d = 0 whose account appears in an incident's affected_account_ids (latest incident state); Welch normal 95% interval",
				N:        "n_after_incident and n_baseline rated tickets",
				Evidence: Descriptive,
				SQL:      "ciso/csat_after_incident.sql", Columns: []string{"difference", "ci_low", "ci_high", "mean_after_incident", "mean_baseline", "n_after_incident", "n_baseline"}},
			{Title: "Deploy lead time associated with security gate blocks", Kind: Stat, Unit: unitHours, Width: 12,
				Units:    map[string]string{"n_blocked": unitCount, "n_unblocked": unitCount},
				Summary:  "Median lead time of deployments a blocking security gate failed for, against deployments without a block; blocks are associated with the extra time.",
				Method:   "exact median (quantileExact) of lead_time_hours (first commit -> finished) from deployment_facts started in range, by gate_blocked; difference of medians, no interval computed here (the headline statistics table carries the transform's interval when present)",
				N:        "n_blocked and n_unblocked deployments with a known lead time",
				Evidence: Descriptive,
				SQL:      "ciso/gate_delay.sql", Columns: []string{"difference_hours", "median_blocked_hours", "median_unblocked_hours", "n_blocked", "n_unblocked"}},
			{Title: "Win rate fast minus slow reviews, adjusted for segment", Kind: Stat, Unit: unitPercent, Width: 8,
				Units:    map[string]string{"sample_size": unitCount},
				Summary:  "The fast-minus-slow win-rate difference within segments, so enterprise deals (slower reviews, lower win rates anyway) do not inflate it; the figure to quote. Review speed is associated with it.",
				Method:   "impact_stats win_rate_diff_fast_minus_slow (stratified by segment): Mantel-Haenszel risk difference with Greenland-Robins Wald 95% interval, latest transform run over all data",
				N:        "sample_size (fast and slow deals); evidence_level insufficient means below the minimum n: do not quote",
				Evidence: Adjusted,
				SQL:      "ciso/stat_win_rate_stratified.sql", Columns: statColumns},
			{Title: "Deploy delay associated with gate blocks (median difference)", Kind: Stat, Unit: unitHours, Width: 8,
				Units:    map[string]string{"sample_size": unitCount},
				Summary:  "Median lead time of gate-blocked minus unblocked deployments with its interval; blocks are associated with the delay, which also reflects what the blocked changes were.",
				Method:   "impact_stats gate_delay_hours: difference of medians with a percentile bootstrap 95% interval (2000 resamples; McKean-Schrader above 100,000 deployments), latest transform run over all data",
				N:        "sample_size (deployments with a lead time)",
				Evidence: Descriptive,
				SQL:      "ciso/stat_gate_delay.sql", Columns: statColumns},
			{Title: "CSAT change after incidents, within accounts", Kind: Stat, Unit: unitCSAT, Width: 8,
				Units:    map[string]string{"sample_size": unitCount},
				Summary:  "Per affected account, mean CSAT in the 30 days after an incident minus its mean otherwise, averaged over accounts; incidents are associated with the change.",
				Method:   "impact_stats csat_incident_drop (paired): mean of per-account differences with a t 95% interval, latest transform run over all data",
				N:        "sample_size (accounts rated both after an incident and otherwise)",
				Evidence: QuasiExperiment,
				SQL:      "ciso/stat_csat_paired.sql", Columns: statColumns},
			{Title: "Cost of risk by department", Kind: BarChart, Unit: unitUSD, Width: 12,
				Summary:  "Cost of risk charged to each department: incident cost split across the departments whose decisions contributed, plus vendor assessment and monitoring cost of the tools it requested, plus remediation effort where known; the charge is associated with the department's decisions.",
				Method:   "sum of department_scorecard.cost_of_risk_usd over the months in range",
				N:        "departments shown; the incidents behind each figure are in the department scorecard",
				Evidence: Descriptive,
				SQL:      "ciso/cost_of_risk_by_department.sql", Columns: []string{"department", "cost_of_risk_usd"}},
			{Title: "Win rate by quarter, fast vs slow reviews", Kind: TimeSeries, Unit: unitPercent, Width: 12,
				Units:    map[string]string{"fast_deals": unitCount, "slow_deals": unitCount},
				Summary:  "Quarterly win rate of deals with fast and with slow security reviews; the gap is associated with review speed.",
				Method:   "won / closed per quarter of closed_at and review bucket from deal_facts",
				N:        "fast_deals and slow_deals per quarter",
				Evidence: Descriptive,
				SQL:      "ciso/win_rate_by_quarter.sql", Columns: []string{"time", "fast_review_win_rate", "slow_review_win_rate", "fast_deals", "slow_deals"}},
			{Title: "Revenue lost to security reasons by quarter", Kind: TimeSeries, Unit: unitUSD, Width: 12,
				Summary:  "Quarterly amount of deals lost with loss reason 'security'; associated with, not proof of, a security cause.",
				Method:   "sum of amount_usd of lost deals with loss_reason security per quarter of closed_at (deal_facts)",
				N:        "lost deals per quarter are listed in the Sales dashboard's deal table",
				Evidence: Descriptive,
				SQL:      "ciso/revenue_lost_by_quarter.sql", Columns: []string{"time", "revenue_lost_security_usd"}},
			{Title: "Headline statistics", Kind: Table, Unit: unitCount, Width: 24, Height: 10,
				Summary:  "Every statistic the transform step computed over all data, latest computation, with its interval, sample size, method and evidence level; associations only.",
				Method:   "latest row per metric/dimension/value of impact_stats by computed_at; not filtered by the time range",
				N:        "sample_size column",
				Evidence: "per row (evidence_level column)",
				SQL:      "ciso/headline_stats.sql", Columns: []string{"metric", "dimension", "dimension_value", "estimate_value", "ci_low_value", "ci_high_value", "sample_size", "evidence_level", "method_used", "computed"}},
		},
	}
}

func sales() Dashboard {
	return Dashboard{
		UID:         UIDSales,
		Title:       "impact: Sales win rates and security reviews",
		Description: "Win rate by customer security-review turnaround and segment, over time, with the deals behind each figure.",
		Panels: []Panel{
			{Title: "Win rate by security-review bucket", Kind: Table, Unit: unitPercent, Width: 12,
				Units:    map[string]string{"deals": unitCount, "won_deals": unitCount},
				Summary:  "Win rate per review bucket (none, fast <= 5 days, medium, slow > 15 days, incomplete); review speed is associated with these differences.",
				Method:   "won / closed per review_bucket from deal_facts closed in range; " + wilson,
				N:        "deals column",
				Evidence: Descriptive,
				SQL:      "sales/win_rate_by_bucket.sql", Columns: []string{"review_bucket", "deals", "won_deals", "win_rate", "ci_low", "ci_high"}},
			{Title: "Win rate by segment and review bucket", Kind: Table, Unit: unitPercent, Width: 12,
				Units:    map[string]string{"deals": unitCount},
				Summary:  "Win rate per customer segment and review bucket, so segment mix does not hide or fake the association.",
				Method:   "won / closed per segment and review_bucket from deal_facts closed in range; " + wilson,
				N:        "deals column; treat rows under 20 deals as noise",
				Evidence: Descriptive,
				SQL:      "sales/win_rate_by_segment.sql", Columns: []string{"segment", "review_bucket", "deals", "win_rate", "ci_low", "ci_high"}},
			{Title: "Win rate by month and review bucket", Kind: TimeSeries, Unit: unitPercent, Width: 24,
				Summary:  "Monthly win rate per review bucket; month-to-month swings on few deals are noise.",
				Method:   "won / closed per month of closed_at and review_bucket (deal_facts)",
				N:        "closed deals per month and bucket, in the bucket table",
				Evidence: Descriptive,
				SQL:      "sales/win_rate_by_month.sql", Columns: []string{"time", "fast", "medium", "slow", "incomplete", "no_review"}},
			{Title: "Security review turnaround", Kind: Stat, Unit: unitDays, Width: 8,
				Units:    map[string]string{"median_share_of_cycle": unitPercent, "reviews": unitCount},
				Summary:  "Median days from a customer's security review request to its completion, and the median share of the deal cycle it took.",
				Method:   "median of review_turnaround_days and of turnaround / (closed_at - created_at) over deal_facts with a completed review, closed in range",
				N:        "reviews",
				Evidence: Descriptive,
				SQL:      "sales/review_turnaround.sql", Columns: []string{"median_turnaround_days", "median_share_of_cycle", "reviews"}},
			{Title: "Deal cycle days by review bucket", Kind: BarChart, Unit: unitDays, Width: 16,
				Units:    map[string]string{"deals": unitCount},
				Summary:  "Median and p90 days from opportunity creation to close per review bucket; slow reviews are associated with longer cycles.",
				Method:   "quantiles of closed_at - created_at per review_bucket (deal_facts closed in range)",
				N:        "deals per bucket",
				Evidence: Descriptive,
				SQL:      "sales/cycle_by_bucket.sql", Columns: []string{"review_bucket", "median_cycle_days", "p90_cycle_days", "deals"}},
			{Title: "Deals behind the figures", Kind: Table, Unit: unitCount, Width: 24, Height: 12,
				Units:    map[string]string{"amount_usd": unitUSD, "review_turnaround_days": unitDays},
				Summary:  "Every closed deal counted in this dashboard's figures (newest 2000), to check any figure against the deals.",
				Method:   "rows of deal_facts closed in range",
				N:        "one row per deal",
				Evidence: Descriptive,
				SQL:      "sales/deals.sql", Columns: []string{"opportunity_id", "account_id", "segment", "deal_type", "amount_usd", "created_at", "closed_at", "outcome", "loss_reason", "review_bucket", "review_turnaround_days"}},
		},
	}
}

func department() Dashboard {
	return Dashboard{
		UID:         UIDDepartment,
		Title:       "impact: Department scorecard",
		Description: "A department's security KPIs beside its delivery KPIs; pick the department and team.",
		Variables: []Variable{
			{Name: "department", Label: "Department", SQL: "department/var_department.sql"},
			{Name: "team", Label: "Team", SQL: "department/var_team.sql", IncludeAll: true},
		},
		Panels: []Panel{
			{Title: "Remediation SLA compliance", Kind: Stat, Unit: unitPercent, Width: 6,
				Units:    map[string]string{"findings": unitCount},
				Summary:  "Share of the department's findings due in the range that were fixed within the remediation SLA (critical 15, high 30, medium 90, low 180 days).",
				Method:   "sum(within_sla) / count(within_sla) over findings with sla_due_at in range (open and not yet due excluded); " + wilson,
				N:        "findings with a decided SLA outcome",
				Evidence: Descriptive,
				SQL:      "department/sla_compliance.sql", Columns: []string{"compliance", "ci_low", "ci_high", "findings"}},
			{Title: "Security debt", Kind: Stat, Unit: unitCount, Width: 6,
				Summary:  "Open critical and high findings older than 365 days at the end of the range, beside all open findings.",
				Method:   "count of findings with status open, severity critical/high and detected more than 365 days before the range end",
				N:        "open_findings",
				Evidence: Descriptive,
				SQL:      "department/security_debt.sql", Columns: []string{"security_debt", "open_findings"}},
			{Title: "Security gate block rate", Kind: Stat, Unit: unitPercent, Width: 6,
				Units:    map[string]string{"deployments": unitCount},
				Summary:  "Share of the department's deployments a failing blocking security gate held up.",
				Method:   "avg(gate_blocked) over deployment_facts started in range; " + wilson,
				N:        "deployments",
				Evidence: Descriptive,
				SQL:      "department/gate_block_rate.sql", Columns: []string{"block_rate", "ci_low", "ci_high", "deployments"}},
			{Title: "Cost of risk", Kind: Stat, Unit: unitUSD, Width: 6,
				Units:    map[string]string{"months": unitCount},
				Summary:  "Incident cost charged to this department for decisions that contributed (split evenly among contributors), plus assessment and monitoring of tools it requested, plus remediation effort where known; associated with the department's decisions.",
				Method:   "sum of department_scorecard.cost_of_risk_usd over the months in range",
				N:        "months",
				Evidence: Descriptive,
				SQL:      "department/cost_of_risk.sql", Columns: []string{"cost_of_risk_usd", "months"}},
			{Title: "Open findings by severity", Kind: TimeSeries, Unit: unitCount, Width: 12,
				Summary:  "Open findings at each month end by severity (department level; the team filter does not apply).",
				Method:   "department_scorecard open_* columns per month",
				N:        "counts are the population, not a sample",
				Evidence: Descriptive,
				SQL:      "department/open_findings_by_month.sql", Columns: []string{"time", "critical", "high", "medium", "low"}},
			{Title: "Delivery KPIs: deployments and lead time", Kind: TimeSeries, Unit: unitCount, Width: 12,
				Units:    map[string]string{"median_lead_time_hours": unitHours},
				Summary:  "The business side: deployments per week and their median lead time, beside the security figures.",
				Method:   "count and median lead_time_hours of deployment_facts per week (Monday) of started_at",
				N:        "deployments per week",
				Evidence: Descriptive,
				SQL:      "department/delivery_kpis.sql", Columns: []string{"time", "deployments", "median_lead_time_hours"}},
			{Title: "Remediation time by severity", Kind: Table, Unit: unitDays, Width: 12,
				Units:    map[string]string{"findings": unitCount, "still_open": unitCount},
				Summary:  "Median and p90 days to fix per severity; open findings count with their age so far, so slow teams are not flattered by dropping them.",
				Method:   "quantiles of days_to_fix, or age at range end for open findings, over findings detected in range (dismissed excluded)",
				N:        "findings column",
				Evidence: Descriptive,
				SQL:      "department/mttr_by_severity.sql", Columns: []string{"severity", "findings", "still_open", "median_days", "p90_days"}},
			{Title: "Monthly scorecard", Kind: Table, Unit: unitCount, Width: 12,
				Units:    map[string]string{"sla_compliance": unitPercent, "gate_block_rate": unitPercent, "cost_of_risk_usd": unitUSD},
				Summary:  "The department's monthly scorecard rows: open findings, SLA compliance, security debt, gate block rate, open policy exceptions, cost of risk.",
				Method:   "rows of department_scorecard in range",
				N:        "one row per month",
				Evidence: Descriptive,
				SQL:      "department/scorecard.sql", Columns: []string{"month", "open_critical", "open_high", "open_medium", "open_low", "sla_compliance", "security_debt", "gate_block_rate", "policy_exceptions_open", "cost_of_risk_usd"}},
		},
	}
}

func delivery() Dashboard {
	return Dashboard{
		UID:         UIDDelivery,
		Title:       "impact: Delivery and security gates",
		Description: "How often security gates block deployments, how often blocks are waived, and the lead time associated with blocks and security fixes.",
		Panels: []Panel{
			{Title: "Gate block rate", Kind: Stat, Unit: unitPercent, Width: 8,
				Units:    map[string]string{"deployments": unitCount},
				Summary:  "Share of deployments a failing blocking security gate held up.",
				Method:   "avg(gate_blocked) over deployment_facts started in range; " + wilson,
				N:        "deployments",
				Evidence: Descriptive,
				SQL:      "delivery/block_rate.sql", Columns: []string{"block_rate", "ci_low", "ci_high", "deployments"}},
			{Title: "Waived share of failed blocking gates", Kind: Stat, Unit: unitPercent, Width: 8,
				Units:    map[string]string{"gate_runs": unitCount},
				Summary:  "Of blocking gate runs that did not pass, the share waived instead of fixed; a high share is associated with gates teams do not trust.",
				Method:   "latest state per run_id (argMax by event time) of gate_events, blocking runs with result fail or waived completed in range; waived / all; " + wilson,
				N:        "gate_runs",
				Evidence: Descriptive,
				SQL:      "delivery/waived_share.sql", Columns: []string{"waived_share", "ci_low", "ci_high", "gate_runs"}},
			{Title: "Weekly gate block rate", Kind: TimeSeries, Unit: unitPercent, Width: 8,
				Units:    map[string]string{"deployments": unitCount},
				Summary:  "Block rate per week with the week's deployment count.",
				Method:   "avg(gate_blocked) per Monday-started week of started_at (deployment_facts)",
				N:        "deployments per week",
				Evidence: Descriptive,
				SQL:      "delivery/block_rate_weekly.sql", Columns: []string{"time", "block_rate", "deployments"}},
			{Title: "Lead time, gate-blocked vs not blocked", Kind: Table, Unit: unitHours, Width: 12,
				Units:    map[string]string{"deployments": unitCount},
				Summary:  "Median and p90 lead time (first commit -> finished) of blocked and unblocked deployments; blocks are associated with the difference, which also reflects what the blocked changes were.",
				Method:   "quantiles of lead_time_hours and gate_wait_hours by gate_blocked over deployment_facts started in range",
				N:        "deployments column",
				Evidence: Descriptive,
				SQL:      "delivery/lead_time_blocked.sql", Columns: []string{"gate", "deployments", "median_lead_time_hours", "p90_lead_time_hours", "median_gate_wait_hours"}},
			{Title: "Security-fix lead time by severity", Kind: Table, Unit: unitHours, Width: 12,
				Units:    map[string]string{"fixes": unitCount},
				Summary:  "Hours from a finding's detection to the successful deployment that ships its fix, per severity.",
				Method:   "successful deployment_facts finished in range, one row per finding in fixes_finding_ids joined to findings.detected_at; median and p90",
				N:        "fixes column",
				Evidence: Descriptive,
				SQL:      "delivery/security_fix_lead_time.sql", Columns: []string{"severity", "fixes", "median_hours", "p90_hours"}},
			{Title: "Block rate by department", Kind: BarChart, Unit: unitPercent, Width: 24,
				Units:    map[string]string{"deployments": unitCount},
				Summary:  "Gate block rate per owning department of the deployed service.",
				Method:   "avg(gate_blocked) per department over deployment_facts started in range",
				N:        "deployments per department",
				Evidence: Descriptive,
				SQL:      "delivery/block_rate_by_department.sql", Columns: []string{"department", "block_rate", "deployments"}},
		},
	}
}

func trust() Dashboard {
	return Dashboard{
		UID:         UIDTrust,
		Title:       "impact: Customer trust",
		Description: "Customer satisfaction around security incidents against each account's own baseline, and security-related support load.",
		Panels: []Panel{
			{Title: "CSAT after incidents vs own baseline", Kind: Stat, Unit: unitCSAT, Width: 8, Units: map[string]string{"accounts": unitCount},
				Summary:  "Change in CSAT (1-5) of accounts in the 30 days after a security incident affected them, against the same accounts' other tickets; incidents are associated with this change.",
				Method:   "per account mean CSAT with after_incident_30d = 1 minus mean of its other rated tickets (ticket_facts, created in range); mean paired difference, normal 95% interval",
				N:        "accounts with rated tickets in both windows",
				Evidence: QuasiExperiment,
				SQL:      "trust/csat_after_incident.sql", Columns: []string{"difference", "ci_low", "ci_high", "accounts"}},
			{Title: "CSAT by incident window and ticket kind", Kind: Table, Unit: unitCSAT, Width: 16,
				Units:    map[string]string{"rated_tickets": unitCount},
				Summary:  "Mean CSAT of rated tickets inside and outside the 30 days after an incident, security-related or not.",
				Method:   "mean csat_score per group over ticket_facts created in range, normal 95% interval of the mean",
				N:        "rated_tickets column",
				Evidence: Descriptive,
				SQL:      "trust/csat_by_group.sql", Columns: []string{"incident_window", "ticket_kind", "rated_tickets", "mean_csat", "ci_low", "ci_high"}},
			{Title: "Security-related tickets per week", Kind: TimeSeries, Unit: unitCount, Width: 12,
				Summary:  "Support tickets flagged security-related against all other tickets, per week.",
				Method:   "count of ticket_facts per Monday-started week of created_at by security_related",
				N:        "the counts themselves",
				Evidence: Descriptive,
				SQL:      "trust/security_tickets_weekly.sql", Columns: []string{"time", "security_tickets", "other_tickets"}},
			{Title: "Weekly CSAT, after incident vs baseline", Kind: TimeSeries, Unit: unitCSAT, Width: 12,
				Summary:  "Mean weekly CSAT of tickets within 30 days after an incident and of the rest; weeks with few rated tickets are noisy.",
				Method:   "mean csat_score per week of created_at by after_incident_30d (ticket_facts)",
				N:        "rated tickets per week (see the table above for totals)",
				Evidence: Descriptive,
				SQL:      "trust/csat_weekly.sql", Columns: []string{"time", "after_incident", "baseline"}},
			{Title: "Accounts with security-related tickets", Kind: Table, Unit: unitCount, Width: 24, Height: 10,
				Units:    map[string]string{"mean_csat": unitCSAT},
				Summary:  "Accounts by security-related ticket count, with their mean CSAT; the accounts behind the figures above.",
				Method:   "per account counts and mean csat_score over ticket_facts created in range (top 100)",
				N:        "tickets column",
				Evidence: Descriptive,
				SQL:      "trust/accounts.sql", Columns: []string{"account_id", "security_tickets", "tickets", "tickets_after_incident", "mean_csat"}},
		},
	}
}

func pipeline() Dashboard {
	return Dashboard{
		UID:         UIDPipeline,
		Title:       "impact: Pipeline health",
		Description: "Ingest rate, rejects, freshness, stalled partitions (from the progress every ingester reports to ingest_progress) and what ClickHouse shows of stored offsets. Per-partition consumer lag is also on each ingester's /metrics (impact_ingest_consumer_lag).",
		Panels: []Panel{
			{Title: "Ingest rate", Kind: TimeSeries, Unit: unitCount, Width: 12,
				Summary:  "Rows written to events_raw per minute (replays included until merged away).",
				Method:   "count of events_raw rows per minute of ingested_at",
				N:        "the counts themselves",
				Evidence: Operational,
				SQL:      "pipeline/ingest_rate.sql", Columns: []string{"time", "events"}},
			{Title: "Rejects per minute by rule", Kind: TimeSeries, Unit: unitCount, Width: 12,
				Summary:  "Events rejected to the DLQ per minute, one series per validation rule.",
				Method:   "count of ingest_rejects rows per minute of rejected_at and rule",
				N:        "the counts themselves",
				Evidence: Operational,
				SQL:      "pipeline/rejects_rate.sql", Columns: []string{"time", "rule", "rejects"}},
			{Title: "Freshness", Kind: Stat, Unit: unitSeconds, Width: 8,
				Units:    map[string]string{"events": unitCount},
				Summary:  "Seconds from the newest stored row (and the newest event time) to the end of the range; growing values mean ingest stalled or sources went quiet.",
				Method:   "range end minus max(ingested_at) and max(event_time) of events_raw",
				N:        "events stored up to the range end",
				Evidence: Operational,
				SQL:      "pipeline/freshness.sql", Columns: []string{"since_last_ingest", "since_newest_event", "events"}},
			{Title: "Stalled partitions (alert when above 0)", Kind: Stat, Unit: unitCount, Width: 8,
				Units:    map[string]string{"longest_stall_s": unitSeconds},
				Summary:  "Partitions whose ingester has messages past the committed offset and has not committed for over 5 minutes (stalled), and partitions whose ingester stopped reporting for over 5 minutes (silent); any value above 0 needs an operator. The ingester's /readyz fails on the same condition.",
				Method:   "latest ingest_progress report per consumer group and partition (written by every ingester about every 15 s), at the range end: stalled = lag > 0 and progress_at older than 300 s; silent = reported_at older than 300 s",
				N:        "reported_partitions",
				Evidence: Operational,
				SQL:      "pipeline/stalled_partitions.sql", Columns: []string{"stalled_partitions", "silent_partitions", "reported_partitions", "longest_stall_s"}},
			{Title: "Rejects by reason", Kind: Table, Unit: unitCount, Width: 16,
				Summary:  "Rejected events by rule and field with the last time seen and an example detail.",
				Method:   "ingest_rejects FINAL (one row per Kafka offset) grouped by rule and field, rejected in range",
				N:        "rejects column",
				Evidence: Operational,
				SQL:      "pipeline/rejects_by_reason.sql", Columns: []string{"rule", "field", "rejects", "last_rejected_at", "example_detail"}},
			{Title: "Stored offsets and arrival delay per partition", Kind: Table, Unit: unitCount, Width: 24,
				Units:    map[string]string{"median_arrival_delay_s": unitSeconds, "p99_arrival_delay_s": unitSeconds},
				Summary:  "Per topic partition: rows stored, highest Kafka offset stored and when, and how late events arrive (ingested_at - event time). Consumer lag against the broker is not visible in ClickHouse.",
				Method:   "events_raw grouped by kafka_topic, kafka_partition, ingested in range",
				N:        "events column",
				Evidence: Operational,
				SQL:      "pipeline/partitions.sql", Columns: []string{"kafka_topic", "kafka_partition", "events", "last_offset", "last_ingested_at", "median_arrival_delay_s", "p99_arrival_delay_s"}},
			{Title: "Transform refreshes", Kind: Table, Unit: unitCount, Width: 24,
				Units:    map[string]string{"seconds_since": unitSeconds, "last_duration_ms": "ms", "last_refresh": "dateTimeAsIso"},
				Summary:  "When impact transform last refreshed each analyst table, how (full or incremental), how long it took and the rows after it; the dashboards above are as fresh as these rows.",
				Method:   "transform_runs grouped by table_name up to the range end (* is the whole run)",
				N:        "refreshes column",
				Evidence: Operational,
				SQL:      "pipeline/transform_runs.sql", Columns: []string{"table_name", "last_refresh", "seconds_since", "last_mode", "last_duration_ms", "table_rows", "refreshes"}},
			{Title: "Events by source and type", Kind: Table, Unit: unitCount, Width: 24,
				Summary:  "Rows and distinct event identities per source and type; rows above distinct events are replays not yet merged.",
				Method:   "events_raw grouped by event_source, event_type, ingested in range",
				N:        "events column",
				Evidence: Operational,
				SQL:      "pipeline/events_by_type.sql", Columns: []string{"event_source", "event_type", "events", "distinct_events"}},
		},
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
