-- The as-of instant of the latest transform run: the default period ends
-- at the last quarter boundary before it.
SELECT toInt64(max(as_of)) AS as_of, count() AS n FROM impact_stats
;

-- One row per deal closed in the period: what the win-rate, stratified
-- difference and revenue-lost figures are computed from (in Go, with the
-- transform/stats procedures, so the period figures use the same methods as
-- impact_stats).
SELECT segment, review_bucket, won, outcome, ifNull(loss_reason, '') AS loss_reason, amount_usd
FROM deal_facts
WHERE closed_at >= toDateTime(1775001600) AND closed_at < toDateTime(1782864000)
ORDER BY opportunity_id
;

-- Rated tickets created in the period by accounts that some security
-- incident affected: after_incident_30d = 1 are the tickets within 30 days
-- after an incident, the others are the same accounts' own baseline.
SELECT account_id, after_incident_30d, toFloat64(assumeNotNull(csat_score)) AS score
FROM ticket_facts
WHERE created_at >= toDateTime(1775001600) AND created_at < toDateTime(1782864000)
    AND isNotNull(csat_score)
    AND account_id IN
    (
        SELECT arrayJoin(accounts)
        FROM
        (
            SELECT argMax(affected_account_ids, tuple(event_time, event_id)) AS accounts
            FROM incident_events
            GROUP BY incident_id
        )
    )
ORDER BY ticket_id
;

-- Deployments started in the period with a lead time, and whether a
-- failing blocking gate held their commit. A negative lead time (first commit
-- stamped after the deployment finished: clock skew) is left out. The alias
-- differs from the column: ClickHouse resolves aliases in WHERE.
SELECT gate_blocked, assumeNotNull(lead_time_hours) AS lead_hours
FROM deployment_facts
WHERE started_at >= toDateTime(1775001600) AND started_at < toDateTime(1782864000)
    AND isNotNull(lead_time_hours) AND lead_time_hours >= 0
ORDER BY deployment_id
;

-- Per department over the months that overlap the period: flows (SLA outcomes,
-- deployments, costs) are summed; stocks (open findings, debt, open
-- exceptions) are taken at the last month of the period.
SELECT
    department,
    argMax(open_critical, month) AS open_critical,
    argMax(open_high, month) AS open_high,
    sum(sla_within) AS sla_within,
    sum(sla_breached) AS sla_breached,
    argMax(security_debt, month) AS security_debt,
    sum(deployments) AS deployments,
    sum(gate_blocked_deployments) AS gate_blocked_deployments,
    argMax(policy_exceptions_open, month) AS policy_exceptions_open,
    sum(cost_of_risk_usd) AS cost_of_risk_usd,
    sum(incident_cost_usd) AS incident_cost_usd,
    sum(vendor_assessment_cost_usd + vendor_monitoring_cost_usd) AS vendor_cost_usd
FROM department_scorecard
WHERE month >= toStartOfMonth(toDate('2026-04-01')) AND month < toDate('2026-07-01')
GROUP BY department
ORDER BY cost_of_risk_usd DESC, department
;
