-- Win rate per landmark review bucket (what was known 15 days after the
-- review request) with the Wilson 95% interval, from impact_stats for the
-- longest stored period inside the time range; null below the minimum n.
SELECT
    dimension_value AS review_bucket,
    n AS n_deals,
    if(enough_n = 1, estimate, NULL) AS win_rate,
    ci_low,
    ci_high,
    evidence AS evidence_level,
    period AS period_shown
FROM impact_stats
WHERE metric = 'win_rate' AND dimension = 'review_bucket'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'win_rate' AND dimension = 'review_bucket'
            AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
ORDER BY indexOf(['none', 'fast', 'medium', 'slow', 'incomplete'], review_bucket)
