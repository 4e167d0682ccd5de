SELECT
    sum(cost_of_risk_usd) AS cost_of_risk_usd,
    count() AS months
FROM department_scorecard
WHERE department = decodeURLComponent('Engineering')
    AND toDate(month) >= toStartOfMonth(toDateTime(1767225600)) AND toDate(month) <= toDate(toDateTime(1782864000))
