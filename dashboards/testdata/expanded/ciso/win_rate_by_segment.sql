-- Beside the adjusted difference: the difference within each segment
-- (account-clustered interval, Benjamini-Hochberg adjusted p), for the
-- period the adjusted figure shows.
SELECT
    dimension_value AS segment,
    if(enough_n = 1, estimate, NULL) AS difference,
    ci_low,
    ci_high,
    n AS n_deals,
    p_adjusted AS p_adjusted_bh,
    evidence AS evidence_level
FROM impact_stats
WHERE metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'segment'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified' AND dimension_value = 'segment'
            AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
ORDER BY segment
