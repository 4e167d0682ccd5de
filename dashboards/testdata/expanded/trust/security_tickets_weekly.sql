SELECT
    toDateTime(toMonday(created_at)) AS time,
    countIf(security_related = 1) AS security_tickets,
    countIf(security_related = 0) AS other_tickets
FROM ticket_facts
WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000)
GROUP BY time
ORDER BY time
