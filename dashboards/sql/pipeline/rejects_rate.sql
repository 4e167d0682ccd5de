SELECT
    toDateTime(intDiv(toUInt32(rejected_at), 60) * 60) AS time,
    rule,
    count() AS rejects
FROM ingest_rejects
WHERE $__timeFilter(rejected_at)
GROUP BY time, rule
ORDER BY time, rule
