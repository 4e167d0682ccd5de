-- Monthly win rate per landmark review bucket from impact_stats, with the
-- deals behind each point; a month-bucket below the minimum n is a gap.
SELECT
    toDateTime(period_start) AS time,
    if(anyIf(enough_n, dimension_value = 'fast') = 1, anyIf(estimate, dimension_value = 'fast'), NULL) AS fast,
    if(anyIf(enough_n, dimension_value = 'medium') = 1, anyIf(estimate, dimension_value = 'medium'), NULL) AS medium,
    if(anyIf(enough_n, dimension_value = 'slow') = 1, anyIf(estimate, dimension_value = 'slow'), NULL) AS slow,
    if(anyIf(enough_n, dimension_value = 'incomplete') = 1, anyIf(estimate, dimension_value = 'incomplete'), NULL) AS incomplete,
    if(anyIf(enough_n, dimension_value = 'none') = 1, anyIf(estimate, dimension_value = 'none'), NULL) AS no_review,
    sumIf(n, dimension_value = 'fast') AS n_fast,
    sumIf(n, dimension_value = 'slow') AS n_slow
FROM impact_stats
WHERE metric = 'win_rate' AND dimension = 'review_bucket' AND period_grain = 'month'
    AND period_start >= toStartOfMonth(toDate(toDateTime(1767225600))) AND period_start <= toDate(toDateTime(1782864000))
GROUP BY time
ORDER BY time
