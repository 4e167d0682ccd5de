SELECT
    toDateTime(toMonday(created_at)) AS time,
    avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 1) AS after_incident,
    avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 0) AS baseline
FROM ticket_facts
WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000) AND isNotNull(csat_score)
GROUP BY time
ORDER BY time
