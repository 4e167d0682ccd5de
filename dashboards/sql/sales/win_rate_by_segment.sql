-- Win rate per segment and landmark review bucket with the Wilson 95%
-- interval, from impact_stats for the longest stored period inside the
-- time range; null below the minimum n.
SELECT
    splitByChar('/', dimension_value)[1] AS segment,
    splitByChar('/', dimension_value)[2] AS review_bucket,
    n AS n_deals,
    if(enough_n = 1, estimate, NULL) AS win_rate,
    ci_low,
    ci_high,
    evidence AS evidence_level
FROM impact_stats
WHERE metric = 'win_rate' AND dimension = 'segment_review_bucket'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'win_rate' AND dimension = 'review_bucket'
            AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
ORDER BY indexOf(['smb', 'mid_market', 'enterprise'], segment), indexOf(['none', 'fast', 'medium', 'slow', 'incomplete'], review_bucket)
