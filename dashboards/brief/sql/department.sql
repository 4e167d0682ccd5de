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
WHERE department = @department
    AND month >= toStartOfMonth(toDate(@from_date)) AND month < toDate(@to_date)
ORDER BY month
