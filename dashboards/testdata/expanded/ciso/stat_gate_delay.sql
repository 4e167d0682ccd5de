-- Latest computation of impact_stats gate_delay_hours / all / blocked_minus_unblocked by the transform step,
-- over all data (not filtered by the time range). No row when the
-- transform has not computed it, so the panel shows "No data".
SELECT
    argMax(estimate, computed_at) AS estimate_value,
    argMax(ci_low, computed_at) AS ci_low,
    argMax(ci_high, computed_at) AS ci_high,
    argMax(n, computed_at) AS sample_size,
    argMax(evidence, computed_at) AS evidence_level
FROM impact_stats
WHERE metric = 'gate_delay_hours' AND dimension = 'all' AND dimension_value = 'blocked_minus_unblocked'
GROUP BY metric, dimension, dimension_value
