-- Alert rule cost_of_risk: per department, the cost of risk charged to it
-- (department_scorecard.cost_of_risk_usd) over the calendar months the
-- range touches; months at the range's edges count in full.
SELECT
    department,
    sum(cost_of_risk_usd) AS value
FROM department_scorecard
WHERE month >= toStartOfMonth(toDate($__fromTime))
    AND month <= toDate($__toTime)
GROUP BY department
ORDER BY department
