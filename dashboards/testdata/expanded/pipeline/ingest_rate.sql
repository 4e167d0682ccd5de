-- Rows written to events_raw per minute of ingested_at. Minutes are formed
-- arithmetically: the plugin's interval macro expands to a function
-- ClickHouse 18.16 lacks.
SELECT
    toDateTime(intDiv(toUInt32(ingested_at), 60) * 60) AS time,
    count() AS events
FROM events_raw
WHERE ingested_at >= toDateTime(1767225600) AND ingested_at <= toDateTime(1782864000)
GROUP BY time
ORDER BY time
