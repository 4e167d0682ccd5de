CREATE TABLE IF NOT EXISTS {{.Table}} (
    metric String COMMENT 'Metric name, documented in docs/metrics.md.',
    dimension String COMMENT 'What the figure is broken down by (all, review_bucket, segment, team, department, severity, ...).',
    dimension_value String COMMENT 'The group of the breakdown (e.g. fast, enterprise); for dimension all: pooled, or the comparison named.',
    n UInt64 COMMENT 'Observations behind the figure (deals, findings, deployments, tickets, accounts).',
    estimate Nullable(Float64) COMMENT 'Point estimate; null when undefined (no observations).',
    ci_low Nullable(Float64) COMMENT 'Lower limit of the 95% confidence interval; null when the method gives none.',
    ci_high Nullable(Float64) COMMENT 'Upper limit of the 95% confidence interval; null when the method gives none.',
    method String COMMENT 'How estimate and interval were computed (wilson, newcombe_hybrid_score, mantel_haenszel_rd, ...).',
    evidence String COMMENT 'descriptive, adjusted (stratified/confounder-adjusted), quasi_experiment (before/after within units), experiment, or insufficient (below the minimum n: grey out).',
    p_value Nullable(Float64) COMMENT 'Two-sided p-value of the comparison, where one is computed.',
    p_adjusted Nullable(Float64) COMMENT 'Benjamini-Hochberg adjusted p-value across the segments scanned for this metric.',
    unit String COMMENT 'Unit of estimate: ratio, usd, days, hours, score, count, rho, r.',
    as_of DateTime COMMENT 'The as-of time of the refresh the figure describes.',
    computed_at DateTime COMMENT 'When the figure was computed.'
) ENGINE = MergeTree ORDER BY (metric, dimension, dimension_value)
