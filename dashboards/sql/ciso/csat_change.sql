-- CSAT change after incidents within the same accounts (the account is the
-- unit, so clustering by account is built in), for the longest stored
-- period inside the time range; null below the minimum n.
SELECT
    period AS period_shown,
    if(enough_n = 1, estimate, NULL) AS csat_change,
    ci_low,
    ci_high,
    n AS n_accounts,
    mde AS detectable_at_80pct_power,
    evidence AS evidence_level
FROM impact_stats
WHERE metric = 'csat_incident_drop' AND dimension = 'paired' AND dimension_value = 'account'
    AND period_start >= toDate($__fromTime) AND period_end <= toDate($__toTime) + 1
ORDER BY period_grain = 'all' DESC, toInt32(period_end) - toInt32(period_start) DESC, period_end DESC
LIMIT 1
