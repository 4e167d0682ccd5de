SELECT
    toDateTime(toMonday(created_at)) AS time,
    countIf(security_related = 1) AS security_related,
    countIf(security_related = 0) AS other
FROM ticket_facts
WHERE $__timeFilter(created_at)
GROUP BY time
ORDER BY time
