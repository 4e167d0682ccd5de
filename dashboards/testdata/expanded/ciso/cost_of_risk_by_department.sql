-- Cost of risk charged to each department over the months in the range.
SELECT
    department,
    sum(cost_of_risk_usd) AS cost_of_risk_usd
FROM department_scorecard
WHERE toDate(month) >= toStartOfMonth(toDateTime(1767225600)) AND toDate(month) <= toDate(toDateTime(1782864000))
GROUP BY department
ORDER BY cost_of_risk_usd DESC
