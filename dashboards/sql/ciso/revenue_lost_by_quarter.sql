SELECT
    toDateTime(toStartOfQuarter(closed_at)) AS time,
    sumIf(amount_usd, outcome = 'lost' AND ifNull(loss_reason, '') = 'security') AS revenue_lost_security_usd
FROM deal_facts
WHERE $__timeFilter(closed_at)
GROUP BY time
ORDER BY time
