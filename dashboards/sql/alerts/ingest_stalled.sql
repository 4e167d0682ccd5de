-- Alert rule ingest_stalled: partitions whose lag grows without commits
-- (messages past the committed offset and no progress for over 5 minutes)
-- plus partitions whose ingester stopped reporting for over 5 minutes, from
-- the latest ingest_progress report per partition at the end of the range.
SELECT
    toFloat64(countIf(lag > 0 AND toInt64($__toTime) - toInt64(progress_at) > 300)
        + countIf(toInt64($__toTime) - toInt64(reported_at) > 300)) AS value
FROM ingest_progress FINAL
WHERE toInt64(reported_at) <= toInt64($__toTime)
