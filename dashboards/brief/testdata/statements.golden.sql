-- The as-of instant of the latest transform run: the default period ends
-- at the last quarter boundary before it.
SELECT toInt64(max(as_of)) AS as_of, count() AS n FROM impact_stats
;

-- The earliest deal close, ticket and deployment start: impact report
-- --every writes the periods from there on.
SELECT toInt64(min(t)) AS first, count() AS n
FROM
(
    SELECT closed_at AS t FROM deal_facts
    UNION ALL
    SELECT created_at AS t FROM ticket_facts
    UNION ALL
    SELECT started_at AS t FROM deployment_facts
)
;

-- Every impact_stats row whose stored period (a month, quarter, year or all
-- data) lies inside the brief's period; Load shows, per figure, the longest
-- of them, the rule the dashboards apply to their time range.
SELECT metric, dimension, dimension_value, period, period_grain, period_start, period_end, n, estimate, ci_low, ci_high,
    method, evidence, p_value, unit, naive_ci_low, naive_ci_high, cluster, clusters, mde, min_n, enough_n, note
FROM impact_stats
WHERE period_start >= toDate('2026-04-01') AND period_end <= toDate('2026-07-01')
ORDER BY metric, dimension, dimension_value, period
;

-- The quarterly trend up to the end of the period (two years at most): the
-- adjusted win-rate difference and the within-account CSAT change.
SELECT metric, dimension, dimension_value, period, period_grain, period_start, period_end, n, estimate, ci_low, ci_high,
    method, evidence, p_value, unit, naive_ci_low, naive_ci_high, cluster, clusters, mde, min_n, enough_n, note
FROM impact_stats
WHERE period_grain = 'quarter' AND period_end <= toDate('2026-07-01') AND period_start >= addMonths(toDate('2026-07-01'), -24)
    AND ((metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified' AND dimension_value = 'segment')
        OR (metric = 'csat_incident_drop' AND dimension = 'paired' AND dimension_value = 'account'))
ORDER BY period_start, metric
;

-- Per department over the months that overlap the period: stocks (open
-- findings, debt, open exceptions) at the last month, incident cost and
-- control spend summed apart, incidents whose cost is not known yet.
-- (unassigned) holds incidents whose review named no department.
SELECT
    department,
    argMax(open_critical, month) AS open_critical,
    argMax(open_high, month) AS open_high,
    argMax(security_debt, month) AS security_debt,
    argMax(policy_exceptions_open, month) AS policy_exceptions_open,
    sum(incident_cost_usd) AS incident_cost_usd,
    sum(control_spend_usd) AS control_spend_usd,
    sum(incidents_cost_unknown) AS incidents_cost_unknown
FROM department_scorecard
WHERE month >= toStartOfMonth(toDate('2026-04-01')) AND month < toDate('2026-07-01')
GROUP BY department
ORDER BY incident_cost_usd + control_spend_usd DESC, department
;

-- One department's scorecard, month by month over the months that overlap
-- the period (the brief's one-page department version): stocks at each
-- month's end, SLA outcomes of the findings due in the month, deployments,
-- incident cost and control spend apart.
SELECT
    toString(month) AS month_label,
    open_critical, open_high, sla_within, sla_breached, security_debt,
    deployments, gate_blocked_deployments, policy_exceptions_open,
    incident_cost_usd, control_spend_usd, incidents_cost_unknown
FROM department_scorecard
WHERE department = 'Engineering'
    AND month >= toStartOfMonth(toDate('2026-04-01')) AND month < toDate('2026-07-01')
ORDER BY month
;

-- One department's changes finished in the period (dora_changes): whether
-- a gate blocked each, whether it failed, its lead time.
SELECT gate_blocked, change_failure, lead_time_hours
FROM dora_changes
WHERE department = 'Engineering'
    AND finished_at >= toDateTime(1775001600) AND finished_at < toDateTime(1782864000)
ORDER BY deployment_id
;

-- Every department the scorecard has rows for: a department's one-page
-- brief refuses any other name (a typo would give an empty page).
SELECT DISTINCT department
FROM department_scorecard
WHERE department != ''
ORDER BY department
;
