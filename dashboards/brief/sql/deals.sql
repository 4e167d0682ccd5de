-- One row per deal closed in the period: what the win-rate, stratified
-- difference and revenue-lost figures are computed from (in Go, with the
-- transform/stats procedures, so the period figures use the same methods as
-- impact_stats).
SELECT segment, review_bucket, won, outcome, ifNull(loss_reason, '') AS loss_reason, amount_usd
FROM deal_facts
WHERE closed_at >= toDateTime(@from) AND closed_at < toDateTime(@to)
ORDER BY opportunity_id
