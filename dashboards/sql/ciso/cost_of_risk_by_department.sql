-- Incident cost and control spend per department over the months in the
-- range, apart: incidents whose review named no department show as
-- (unassigned); incidents_cost_unknown counts those without a cost yet.
SELECT
    department,
    sum(incident_cost_usd) AS incident_cost_usd,
    sum(control_spend_usd) AS control_spend_usd,
    sum(incidents) AS n_incidents,
    sum(incidents_cost_unknown) AS incidents_cost_unknown
FROM department_scorecard
WHERE toDate(month) >= toStartOfMonth($__fromTime) AND toDate(month) <= toDate($__toTime)
GROUP BY department
HAVING incident_cost_usd + control_spend_usd > 0 OR n_incidents > 0
ORDER BY incident_cost_usd DESC, department
