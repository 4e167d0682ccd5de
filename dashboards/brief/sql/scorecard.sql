-- Per department over the months that overlap the period: stocks (open
-- findings, debt, open exceptions) at the last month, incident cost and
-- control spend summed apart, incidents whose cost is not known yet.
-- (unassigned) holds incidents whose review named no department.
SELECT
    department,
    argMax(open_critical, month) AS open_critical,
    argMax(open_high, month) AS open_high,
    argMax(security_debt, month) AS security_debt,
    argMax(policy_exceptions_open, month) AS policy_exceptions_open,
    sum(incident_cost_usd) AS incident_cost_usd,
    sum(control_spend_usd) AS control_spend_usd,
    sum(incidents_cost_unknown) AS incidents_cost_unknown
FROM department_scorecard
WHERE month >= toStartOfMonth(toDate(@from_date)) AND month < toDate(@to_date)
GROUP BY department
ORDER BY incident_cost_usd + control_spend_usd DESC, department
