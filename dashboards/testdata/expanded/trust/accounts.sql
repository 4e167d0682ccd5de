SELECT
    account_id,
    countIf(security_related = 1) AS security_tickets,
    count() AS tickets,
    countIf(after_incident_30d = 1) AS tickets_after_incident,
    avgIf(toFloat64(assumeNotNull(csat_score)), isNotNull(csat_score)) AS mean_csat
FROM ticket_facts
WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000)
GROUP BY account_id
HAVING security_tickets > 0
ORDER BY security_tickets DESC, account_id
LIMIT 100
