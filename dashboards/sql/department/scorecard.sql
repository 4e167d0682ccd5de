-- The department's monthly scorecard rows: SLA compliance of the findings
-- due that month (due-date cohort) with the count behind it, gate block
-- rate with its deployments, incident cost and control spend apart.
SELECT
    month,
    open_critical,
    open_high,
    open_medium,
    open_low,
    sla_compliance,
    sla_within + sla_breached AS n_findings_due,
    security_debt,
    gate_block_rate,
    deployments AS n_deployments,
    policy_exceptions_open,
    incident_cost_usd,
    control_spend_usd
FROM department_scorecard
WHERE department = decodeURLComponent('${department:percentencode}')
    AND toDate(month) >= toStartOfMonth($__fromTime) AND toDate(month) <= toDate($__toTime)
ORDER BY month DESC
