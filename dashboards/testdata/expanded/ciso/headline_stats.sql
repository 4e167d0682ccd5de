-- Every statistic the transform computed over all data (period all), with
-- its interval, sample size, clustering, detectable effect and evidence.
SELECT
    metric,
    dimension,
    dimension_value,
    estimate AS estimate_value,
    ci_low AS ci_low_value,
    ci_high AS ci_high_value,
    n,
    cluster,
    naive_ci_low,
    naive_ci_high,
    mde AS detectable_at_80pct_power,
    evidence AS evidence_level,
    method AS method_used,
    note,
    computed_at AS computed
FROM impact_stats
WHERE period = 'all'
ORDER BY metric, dimension, dimension_value
