SELECT
    sum(cost_of_risk_usd) AS cost_of_risk_usd,
    count() AS months
FROM department_scorecard
WHERE department = decodeURLComponent('${department:percentencode}')
    AND toDate(month) >= toStartOfMonth($__fromTime) AND toDate(month) <= toDate($__toTime)
