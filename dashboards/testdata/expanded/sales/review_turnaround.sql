-- Median review turnaround and its median share of the deal's cycle, over
-- deals with a review completed by the close, with order-statistic
-- intervals, from impact_stats for the longest stored period inside the
-- time range.
SELECT
    any(period) AS period_shown,
    if(anyIf(enough_n, metric = 'review_turnaround_days') = 1, anyIf(estimate, metric = 'review_turnaround_days'), NULL) AS median_turnaround_days,
    anyIf(ci_low, metric = 'review_turnaround_days') AS ci_low,
    anyIf(ci_high, metric = 'review_turnaround_days') AS ci_high,
    if(anyIf(enough_n, metric = 'review_share_of_cycle') = 1, anyIf(estimate, metric = 'review_share_of_cycle'), NULL) AS median_share_of_cycle,
    anyIf(n, metric = 'review_turnaround_days') AS n_reviews
FROM impact_stats
WHERE metric IN ('review_turnaround_days', 'review_share_of_cycle') AND dimension = 'all' AND dimension_value = 'median'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'review_turnaround_days' AND dimension = 'all'
            AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
