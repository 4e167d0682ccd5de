-- Alert (non-zero stalled_partitions or silent_partitions): partitions with
-- messages past their committed offset and no progress (commit advancing)
-- for over 5 minutes, and partitions whose ingester stopped reporting for
-- over 5 minutes; from the latest ingest_progress report per partition, at
-- the end of the range.
SELECT
    countIf(lag > 0 AND toInt64(toDateTime(1782864000)) - toInt64(progress_at) > 300) AS stalled_partitions,
    countIf(toInt64(toDateTime(1782864000)) - toInt64(reported_at) > 300) AS silent_partitions,
    count() AS reported_partitions,
    max(if(lag > 0, toInt64(toDateTime(1782864000)) - toInt64(progress_at), 0)) AS longest_stall_s
FROM ingest_progress FINAL
WHERE reported_at <= toDateTime(1782864000)
