SELECT
    toDateTime(intDiv(toUInt32(rejected_at), 60) * 60) AS time,
    rule,
    count() AS rejects
FROM ingest_rejects
WHERE rejected_at >= toDateTime(1767225600) AND rejected_at <= toDateTime(1782864000)
GROUP BY time, rule
ORDER BY time, rule
