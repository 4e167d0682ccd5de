-- The latest computation of every statistic transform wrote.
SELECT
    metric,
    dimension,
    dimension_value,
    argMax(estimate, computed_at) AS estimate_value,
    argMax(ci_low, computed_at) AS ci_low_value,
    argMax(ci_high, computed_at) AS ci_high_value,
    argMax(n, computed_at) AS sample_size,
    argMax(evidence, computed_at) AS evidence_level,
    argMax(method, computed_at) AS method_used,
    max(computed_at) AS computed
FROM impact_stats
GROUP BY metric, dimension, dimension_value
ORDER BY metric, dimension, dimension_value
