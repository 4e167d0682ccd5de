-- Every impact_stats row whose stored period (a month, quarter, year or all
-- data) lies inside the brief's period; Load shows, per figure, the longest
-- of them, the rule the dashboards apply to their time range.
SELECT metric, dimension, dimension_value, period, period_grain, period_start, period_end, n, estimate, ci_low, ci_high,
    method, evidence, p_value, unit, naive_ci_low, naive_ci_high, cluster, clusters, mde, min_n, enough_n, note
FROM impact_stats
WHERE period_start >= toDate(@from_date) AND period_end <= toDate(@to_date)
ORDER BY metric, dimension, dimension_value, period
