-- What ClickHouse can show of consumer progress: the highest offset stored
-- per topic partition, when it was written, and how late events arrive.
SELECT
    kafka_topic,
    kafka_partition,
    count() AS events,
    max(kafka_offset) AS last_offset,
    max(ingested_at) AS last_ingested_at,
    quantile(0.5)(toInt64(ingested_at) - toInt64(event_time)) AS median_arrival_delay_s,
    quantile(0.99)(toInt64(ingested_at) - toInt64(event_time)) AS p99_arrival_delay_s
FROM events_raw
WHERE ingested_at >= toDateTime(1767225600) AND ingested_at <= toDateTime(1782864000)
GROUP BY kafka_topic, kafka_partition
ORDER BY kafka_topic, kafka_partition
