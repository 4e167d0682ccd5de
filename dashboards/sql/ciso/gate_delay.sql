-- Extra median lead time of gate-blocked deployments, like with like
-- (successful deployments to one environment, named in note), with the
-- service cluster bootstrap interval, for the longest stored period inside
-- the time range; null below the minimum n.
SELECT
    period AS period_shown,
    if(enough_n = 1, estimate, NULL) AS delay_hours,
    ci_low,
    ci_high,
    n AS n_deployments,
    naive_ci_low AS independent_ci_low,
    naive_ci_high AS independent_ci_high,
    evidence AS evidence_level,
    note
FROM impact_stats
WHERE metric = 'gate_delay_hours' AND dimension = 'all' AND dimension_value = 'blocked_minus_unblocked'
    AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
LIMIT 1
