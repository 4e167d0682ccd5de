-- Revenue recorded as lost to security (what sales wrote) beside revenue
-- associated with slow reviews (the adjusted difference times the
-- slow-review pipeline, with its interval), for the longest stored period
-- inside the time range.
SELECT
    any(period) AS period_shown,
    anyIf(estimate, metric = 'revenue_lost_security_usd') AS recorded_lost_to_security_usd,
    anyIf(n, metric = 'revenue_lost_security_usd') AS n_deals_lost_to_security,
    if(anyIf(enough_n, metric = 'revenue_associated_slow_reviews_usd') = 1, anyIf(estimate, metric = 'revenue_associated_slow_reviews_usd'), NULL) AS associated_with_slow_reviews_usd,
    anyIf(ci_low, metric = 'revenue_associated_slow_reviews_usd') AS ci_low,
    anyIf(ci_high, metric = 'revenue_associated_slow_reviews_usd') AS ci_high,
    anyIf(n, metric = 'revenue_associated_slow_reviews_usd') AS n_slow_review_deals,
    anyIf(evidence, metric = 'revenue_associated_slow_reviews_usd') AS evidence_level
FROM impact_stats
WHERE ((metric = 'revenue_lost_security_usd' AND dimension = 'all' AND dimension_value = 'pooled')
        OR (metric = 'revenue_associated_slow_reviews_usd' AND dimension = 'stratified' AND dimension_value = 'segment'))
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'revenue_lost_security_usd' AND dimension = 'all' AND dimension_value = 'pooled'
            AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
