-- Median deal cycle days per landmark review bucket with order-statistic
-- intervals, from impact_stats for the longest stored period inside the
-- time range.
SELECT
    dimension_value AS review_bucket,
    if(enough_n = 1, estimate, NULL) AS median_cycle_days,
    ci_low,
    ci_high,
    n AS n_deals
FROM impact_stats
WHERE metric = 'deal_cycle_days' AND dimension = 'review_bucket'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'deal_cycle_days' AND dimension = 'review_bucket'
            AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
ORDER BY indexOf(['none', 'fast', 'medium', 'slow', 'incomplete'], review_bucket)
