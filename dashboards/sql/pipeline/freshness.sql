-- Seconds since the newest row was written and since the newest event time
-- stored, measured at the end of the range.
SELECT
    toInt64($__toTime) - toInt64(max(ingested_at)) AS since_last_ingest,
    toInt64($__toTime) - toInt64(max(event_time)) AS since_newest_event,
    count() AS events
FROM events_raw
WHERE ingested_at <= $__toTime
