-- Seconds since the newest row was written and since the newest event time
-- stored, measured at the end of the range.
SELECT
    toInt64(toDateTime(1782864000)) - toInt64(max(ingested_at)) AS since_last_ingest,
    toInt64(toDateTime(1782864000)) - toInt64(max(event_time)) AS since_newest_event,
    count() AS events
FROM events_raw
WHERE ingested_at <= toDateTime(1782864000)
