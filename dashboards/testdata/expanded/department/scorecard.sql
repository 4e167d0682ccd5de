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
WHERE department = decodeURLComponent('Engineering')
    AND toDate(month) >= toStartOfMonth(toDateTime(1767225600)) AND toDate(month) <= toDate(toDateTime(1782864000))
ORDER BY month DESC
