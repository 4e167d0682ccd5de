-- Quarterly trend of the CSAT change after incidents within accounts, with
-- its interval; quarters below the minimum n are gaps.
SELECT
    toDateTime(period_start) AS time,
    if(enough_n = 1, estimate, NULL) AS csat_change,
    if(enough_n = 1, ci_low, NULL) AS ci_low,
    if(enough_n = 1, ci_high, NULL) AS ci_high,
    n AS n_accounts
FROM impact_stats
WHERE metric = 'csat_incident_drop' AND dimension = 'paired' AND dimension_value = 'account'
    AND period_grain = 'quarter'
    AND period_start >= toStartOfQuarter(toDate($__fromTime)) AND period_start <= toDate($__toTime)
ORDER BY time
