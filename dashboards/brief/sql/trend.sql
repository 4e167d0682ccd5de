-- The quarterly trend up to the end of the period (two years at most): the
-- adjusted win-rate difference and the within-account CSAT change.
SELECT metric, dimension, dimension_value, period, period_grain, period_start, period_end, n, estimate, ci_low, ci_high,
    method, evidence, p_value, unit, naive_ci_low, naive_ci_high, cluster, clusters, mde, min_n, enough_n, note
FROM impact_stats
WHERE period_grain = 'quarter' AND period_end <= toDate(@to_date) AND period_start >= addMonths(toDate(@to_date), -24)
    AND ((metric = 'win_rate_diff_fast_minus_slow' AND dimension = 'stratified' AND dimension_value = 'segment')
        OR (metric = 'csat_incident_drop' AND dimension = 'paired' AND dimension_value = 'account'))
ORDER BY period_start, metric
