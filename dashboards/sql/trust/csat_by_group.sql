-- Mean CSAT of rated tickets within 30 days after an incident and of the
-- same accounts' other tickets, Student t intervals, from impact_stats for
-- the longest stored period inside the time range.
SELECT
    if(dimension_value = '1', 'within 30 days after incident', 'own baseline (same accounts)') AS incident_window,
    n AS n_rated_tickets,
    if(enough_n = 1, estimate, NULL) AS mean_csat,
    ci_low,
    ci_high,
    evidence AS evidence_level
FROM impact_stats
WHERE metric = 'csat' AND dimension = 'after_incident_30d'
    AND period IN
    (
        SELECT period FROM impact_stats
        WHERE metric = 'csat' AND dimension = 'after_incident_30d' AND dimension_value = '1'
            AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
        ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
        LIMIT 1
    )
ORDER BY incident_window
