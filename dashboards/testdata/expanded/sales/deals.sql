SELECT
    opportunity_id,
    account_id,
    segment,
    deal_type,
    amount_usd,
    created_at,
    closed_at,
    outcome,
    loss_reason,
    landmark_bucket,
    review_bucket,
    review_turnaround_days
FROM deal_facts
WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
ORDER BY closed_at DESC, opportunity_id
LIMIT 2000
