package transform

// The SQL impact_stats reads, in one place. Each reads a fact table (or
// the latest states of a small typed table) at the grain the statistics
// need: one row per deal, deployment, ticket, finding.
const (
	qDeals = `SELECT segment, review_bucket, outcome, ifNull(loss_reason, ''), won, review_turnaround_days, cycle_days, amount_usd FROM deal_facts ORDER BY opportunity_id`

	// Deployments pre-aggregated per department and gate outcome: the
	// counts, and the lead times as one array per group. Every statistic
	// but the bootstrap is invariant to the order of the lead times
	// (medians and McKean-Schrader sort them, Mann-Whitney rank sums are
	// exact), so no server-side sort and no million-row string decoding.
	qDeploymentGroups = `SELECT department, gate_blocked, gate_waived, count() AS n,
    groupArrayIf(assumeNotNull(lead_time_hours), isNotNull(lead_time_hours)) AS lead
FROM deployment_facts
GROUP BY department, gate_blocked, gate_waived
ORDER BY department, gate_blocked, gate_waived`

	// The bootstrap resamples by position, so it reads the lead times in
	// deployment order (only for samples small enough to bootstrap).
	qDeploymentLeads = `SELECT gate_blocked, assumeNotNull(lead_time_hours) FROM deployment_facts WHERE isNotNull(lead_time_hours) ORDER BY deployment_id`

	// Only a median of these is taken, so their order does not matter.
	qSecurityFix = `SELECT (toInt64(finished_at) - toInt64(detected_at)) / 3600
FROM
(
    SELECT arrayJoin(fixes_finding_ids) AS finding_id, assumeNotNull(finished_at) AS finished_at
    FROM deployment_facts
    WHERE trigger = 'security_fix' AND isNotNull(finished_at)
) AS l1
ALL INNER JOIN
(
    SELECT finding_id, detected_at FROM findings
) AS r1 USING finding_id`

	// Tickets counted per account, incident window, security flag, CSAT
	// score and affected flag (the account appears in any incident's
	// affected_account_ids: the accounts whose own baseline metric 12
	// compares against). Scores are small integers, so the statistics are
	// computed from the counts in score order, whatever the row order.
	qTicketGroups = `SELECT account_id, after_incident_30d, security_related, isNotNull(csat_score) AS rated, ifNull(csat_score, 0) AS csat, affected, count() AS n
FROM
(
    SELECT account_id, after_incident_30d, security_related, csat_score FROM ticket_facts
) AS l2
ALL LEFT JOIN
(
    SELECT DISTINCT arrayJoin(accounts) AS account_id, toUInt8(1) AS affected
    FROM
    (
        SELECT incident_id, tupleElement(argMax(tuple(affected_account_ids), tuple(event_time, event_id)), 1) AS accounts
        FROM (SELECT * FROM incident_events) GROUP BY incident_id
    )
) AS r2 USING account_id
GROUP BY account_id, after_incident_30d, security_related, rated, csat, affected`

	// Findings pre-aggregated per team, department, severity, status, SLA
	// outcome (2: undecided) and debt flag: the count and the times to fix
	// in days as one array per group (fixed findings observed, open ones
	// censored at their age as of @asof, dismissed ones at dismissal).
	// Kaplan-Meier sorts the times, so their order does not matter.
	qFindingGroups = `SELECT team, department, severity, status, within, debt, count() AS n, groupArray(days) AS days
FROM
(
    SELECT team, department, severity, status, ifNull(within_sla, 2) AS within,
        (toInt64(multiIf(status = 'fixed', ifNull(fixed_at, last_event_time),
                         status = 'dismissed', ifNull(dismissed_at, last_event_time),
                         toDateTime(@asof))) - toInt64(detected_at)) / 86400 AS days,
        toUInt8(status = 'open' AND severity IN ('critical', 'high') AND detected_at < toDateTime(@asof) - 365 * 86400) AS debt
    FROM findings
)
GROUP BY team, department, severity, status, within, debt
ORDER BY team, department, severity, status, within, debt`

	qCostOfRisk = `SELECT department, sum(cost_of_risk_usd), sum(incidents) FROM department_scorecard GROUP BY department ORDER BY department`

	qVendors = `SELECT tupleElement(s, 1),
    toFloat64(ifNull(tupleElement(s, 2), 0)),
    if(isNotNull(tupleElement(s, 4)), (toInt64(assumeNotNull(tupleElement(s, 4))) - toInt64(tupleElement(s, 3))) / 86400, NULL)
FROM
(
    SELECT assessment_id,
           argMax(tuple(department, assessment_cost_usd, requested_at, completed_at), tuple(event_time, event_id)) AS s
    FROM (SELECT * FROM vendor_assessment_events) GROUP BY assessment_id
)
ORDER BY assessment_id`

	qExceptions = `SELECT tupleElement(s, 1),
    (toInt64(ifNull(tupleElement(s, 3), toDateTime(@asof))) - toInt64(tupleElement(s, 2))) / 86400,
    toUInt8(isNotNull(tupleElement(s, 3)))
FROM
(
    SELECT exception_id,
           argMax(tuple(department, opened_at, resolved_at), tuple(event_time, event_id)) AS s
    FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
)
ORDER BY exception_id`
)
