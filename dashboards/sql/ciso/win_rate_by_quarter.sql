-- Quarterly trend of the adjusted fast-minus-slow win-rate difference with
-- its interval: quarters below the minimum n are gaps, not points.
SELECT
    toDateTime(period_start) AS time,
    if(enough_n = 1, estimate, NULL) AS adjusted_difference,
    if(enough_n = 1, ci_low, NULL) AS ci_low,
    if(enough_n = 1, ci_high, NULL) AS ci_high,
    n AS n_deals
FROM impact_stats
WHERE metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified' AND dimension_value = 'segment'
    AND period_grain = 'quarter'
    AND period_start >= toStartOfQuarter(toDate($__fromTime)) AND period_start <= toDate($__toTime)
ORDER BY time
