SELECT
    month,
    open_critical,
    open_high,
    open_medium,
    open_low,
    sla_compliance,
    security_debt,
    gate_block_rate,
    policy_exceptions_open,
    cost_of_risk_usd
FROM department_scorecard
WHERE department = decodeURLComponent('${department:percentencode}')
    AND toDate(month) >= toStartOfMonth($__fromTime) AND toDate(month) <= toDate($__toTime)
ORDER BY month DESC
