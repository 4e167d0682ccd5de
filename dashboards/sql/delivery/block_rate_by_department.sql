-- Gate block rate per owning department, from impact_stats for the longest
-- stored period inside the time range; null below the minimum n.
SELECT
    dimension_value AS department,
    if(enough_n = 1, estimate, NULL) AS block_rate,
    n AS n_deployments
FROM impact_stats
WHERE metric = 'gate_block_rate' AND dimension = 'department'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'gate_block_rate' AND dimension = 'all' AND dimension_value = 'pooled'
            AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
ORDER BY department
