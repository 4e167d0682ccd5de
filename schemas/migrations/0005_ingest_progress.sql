-- Consumer progress, reported by every ingester about every 15 s for each
-- partition it is assigned: the pipeline-health dashboard's stall alert
-- (partitions with lag whose committed offset stopped advancing, ingesters
-- that stopped reporting). The latest report per group and partition wins.
CREATE TABLE IF NOT EXISTS ingest_progress
(
    consumer_group String COMMENT 'Kafka consumer group of the ingester',
    kafka_topic String COMMENT 'Source topic',
    kafka_partition Int32 COMMENT 'Source partition',
    member String COMMENT 'Group member id of the ingester that reported',
    committed_offset Int64 COMMENT 'Offset the member last committed (or started reading at); -1 when unknown',
    high_watermark Int64 COMMENT 'High watermark seen by its last fetch; -1 when unknown',
    lag Int64 COMMENT 'Messages past the committed offset: high_watermark - committed_offset',
    progress_at DateTime COMMENT 'When the partition last made progress (its commit advanced, or lag began) (UTC)',
    reported_at DateTime COMMENT 'When this report was written (UTC)'
)
ENGINE = ReplacingMergeTree(reported_at)
ORDER BY (consumer_group, kafka_topic, kafka_partition);
