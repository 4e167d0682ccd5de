-- Share of deployments a failing blocking security gate held up, Wilson
-- interval, from impact_stats for the longest stored period inside the
-- time range.
SELECT
    period AS period_shown,
    if(enough_n = 1, estimate, NULL) AS block_rate,
    ci_low,
    ci_high,
    n AS n_deployments,
    evidence AS evidence_level
FROM impact_stats
WHERE metric = 'gate_block_rate' AND dimension = 'all' AND dimension_value = 'pooled'
    AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
LIMIT 1
