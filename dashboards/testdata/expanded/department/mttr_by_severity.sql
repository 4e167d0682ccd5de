-- Remediation time per severity of findings detected in the period:
-- Kaplan-Meier median and p90 days with open (and dismissed) findings
-- censored, from impact_stats for the longest stored period inside the
-- time range; null where fewer than half (a tenth) are fixed or below the
-- minimum n.
SELECT
    replaceRegexpOne(dimension_value, '(?s)^.*/', '') AS severity,
    sumIf(n, metric = 'findings_open') AS n_findings,
    sumIf(estimate, metric = 'findings_open') AS still_open,
    if(anyIf(enough_n, metric = 'mttr_days_median') = 1, anyIf(estimate, metric = 'mttr_days_median'), NULL) AS median_days,
    if(anyIf(enough_n, metric = 'mttr_days_p90') = 1, anyIf(estimate, metric = 'mttr_days_p90'), NULL) AS p90_days,
    anyIf(evidence, metric = 'mttr_days_median') AS evidence_level
FROM impact_stats
WHERE metric IN ('mttr_days_median', 'mttr_days_p90', 'findings_open')
    AND dimension = if(decodeURLComponent('__all') = '__all', 'department_severity', 'team_severity')
    AND substring(dimension_value, 1, length(if(decodeURLComponent('__all') = '__all', decodeURLComponent('Engineering'), decodeURLComponent('__all'))) + 1) = concat(if(decodeURLComponent('__all') = '__all', decodeURLComponent('Engineering'), decodeURLComponent('__all')), '/')
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'findings_open'
            AND dimension = if(decodeURLComponent('__all') = '__all', 'department', 'team')
            AND dimension_value = if(decodeURLComponent('__all') = '__all', decodeURLComponent('Engineering'), decodeURLComponent('__all'))
            AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
GROUP BY severity
ORDER BY indexOf(['critical', 'high', 'medium', 'low', 'info'], severity)
