-- Cost of risk charged to each department over the months in the range.
SELECT
    department,
    sum(cost_of_risk_usd) AS cost_of_risk_usd
FROM department_scorecard
WHERE toDate(month) >= toStartOfMonth($__fromTime) AND toDate(month) <= toDate($__toTime)
GROUP BY department
ORDER BY cost_of_risk_usd DESC
