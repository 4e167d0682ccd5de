SELECT
    toDateTime(toStartOfQuarter(closed_at)) AS time,
    sumIf(amount_usd, outcome = 'lost' AND ifNull(loss_reason, '') = 'security') AS revenue_lost_security_usd
FROM deal_facts
WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
GROUP BY time
ORDER BY time
