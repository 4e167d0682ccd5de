-- Messages ingest rejected (also sent to the dead-letter topic), one row per
-- Kafka message: a replay of the same offset collapses into one row.
CREATE TABLE IF NOT EXISTS ingest_rejects
(
    kafka_topic String COMMENT 'Lineage: Kafka topic of the rejected message',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    rejected_at DateTime COMMENT 'When ingest rejected it (UTC)',
    field String COMMENT 'Field path that broke the contract, e.g. data.severity; empty for the message as a whole',
    rule String COMMENT 'Rule broken: required, type, enum, format, size, utf8, json, unknown_type, ...',
    detail String COMMENT 'Human-readable reason',
    event_source String COMMENT 'CloudEvents source when it could be read; else empty',
    event_id String COMMENT 'CloudEvents id when it could be read; else empty',
    event_type String COMMENT 'CloudEvents type when it could be read; else empty',
    payload_prefix String COMMENT 'First bytes of the message value, for diagnosis'
)
ENGINE = ReplacingMergeTree(rejected_at)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);
