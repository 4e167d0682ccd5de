-- Quarterly revenue recorded as lost to security, with the deals behind it.
SELECT
    toDateTime(period_start) AS time,
    estimate AS revenue_lost_security_usd,
    n AS n_deals
FROM impact_stats
WHERE metric = 'revenue_lost_security_usd' AND dimension = 'all' AND dimension_value = 'pooled'
    AND period_grain = 'quarter'
    AND period_start >= toStartOfQuarter(toDate($__fromTime)) AND period_start <= toDate($__toTime)
ORDER BY time
