SELECT
    toDateTime(toMonday(created_at)) AS time,
    countIf(security_related = 1) AS security_tickets,
    countIf(security_related = 0) AS other_tickets
FROM ticket_facts
WHERE $__timeFilter(created_at)
GROUP BY time
ORDER BY time
