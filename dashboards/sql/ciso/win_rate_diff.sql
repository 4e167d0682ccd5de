-- The fast-minus-slow win-rate difference adjusted for segment (the figure
-- to quote) with its account-clustered interval, the p-value of the test
-- that it differs between segments, and the pooled difference beside it,
-- confounded by segment: all from impact_stats for the longest stored
-- period (month, quarter, year or all) inside the time range, the same row
-- the brief and impact demo show. The adjusted estimate is null when a
-- compared group is below the minimum n.
SELECT
    any(period) AS period_shown,
    if(anyIf(enough_n, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified') = 1, anyIf(estimate, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified'), NULL) AS adjusted_difference,
    anyIf(ci_low, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified') AS ci_low,
    anyIf(ci_high, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified') AS ci_high,
    anyIf(n, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified') AS n_deals,
    anyIf(mde, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified') AS detectable_at_80pct_power,
    anyIf(p_value, metric = 'win_rate_diff_heterogeneity') AS segments_differ_p,
    anyIf(estimate, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'all') AS pooled_difference_confounded_by_segment,
    anyIf(evidence, metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified') AS evidence_level
FROM impact_stats
WHERE ((metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified' AND dimension_value = 'segment')
        OR (metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'all' AND dimension_value = 'pooled')
        OR (metric = 'win_rate_diff_heterogeneity' AND dimension = 'stratified' AND dimension_value = 'segment'))
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified' AND dimension_value = 'segment'
            AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
