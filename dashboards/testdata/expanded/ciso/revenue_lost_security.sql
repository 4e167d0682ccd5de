-- Revenue of deals lost with loss_reason = security, and its share of all
-- lost revenue, for deals closed in the time range.
SELECT
    sumIf(amount_usd, outcome = 'lost' AND ifNull(loss_reason, '') = 'security') AS revenue_lost_usd,
    revenue_lost_usd / sumIf(amount_usd, outcome = 'lost') AS share_of_lost_revenue,
    countIf(outcome = 'lost' AND ifNull(loss_reason, '') = 'security') AS deals_lost_to_security
FROM deal_facts
WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
