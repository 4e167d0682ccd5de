-- SLA compliance of the department (or the team picked) by due-date
-- cohort: findings that fell due in the period, met if fixed by the due
-- date, missed if fixed late, still open or dismissed after it. From
-- impact_stats (Wilson interval) for the longest stored period inside the
-- time range: the same figure as the scorecard and the brief.
SELECT
    period AS period_shown,
    if(enough_n = 1, estimate, NULL) AS compliance,
    ci_low,
    ci_high,
    n AS n_findings_due,
    evidence AS evidence_level
FROM impact_stats
WHERE metric = 'sla_compliance' AND dimension = if(decodeURLComponent('__all') = '__all', 'department', 'team') AND dimension_value = if(decodeURLComponent('__all') = '__all', decodeURLComponent('Engineering'), decodeURLComponent('__all'))
    AND period_start >= toDate(toDateTime(1767225600)) AND period_end <= toDate(toDateTime(1782864000)) + 1
ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
LIMIT 1
