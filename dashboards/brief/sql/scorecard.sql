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
WHERE month >= toStartOfMonth(toDate(@from_date)) AND month < toDate(@to_date)
GROUP BY department
ORDER BY cost_of_risk_usd DESC, department
