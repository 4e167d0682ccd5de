-- Incident cost charged to the department and its control spend, apart,
-- over the months in the range; incidents_cost_unknown counts incidents
-- whose cost is not known yet (the incident cost is then a lower bound).
SELECT
    sum(incident_cost_usd) AS incident_cost_usd,
    sum(control_spend_usd) AS control_spend_usd,
    sum(incidents) AS n_incidents,
    sum(incidents_cost_unknown) AS incidents_cost_unknown
FROM department_scorecard
WHERE department = decodeURLComponent('Engineering')
    AND toDate(month) >= toStartOfMonth(toDateTime(1767225600)) AND toDate(month) <= toDate(toDateTime(1782864000))
