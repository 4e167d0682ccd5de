SELECT
    toDateTime(toMonday(created_at)) AS time,
    avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 1) AS after_incident,
    avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 0) AS baseline
FROM ticket_facts
WHERE $__timeFilter(created_at) AND isNotNull(csat_score)
GROUP BY time
ORDER BY time
