-- Every accepted event as received, one row per event identity
-- (event_source, event_id). A replayed event (ingest restarted, a backfill
-- published twice) is the same row again and ReplacingMergeTree collapses
-- it; read with FINAL or argMax until the merge happened.
CREATE TABLE IF NOT EXISTS events_raw
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.finding.opened',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    subject String COMMENT 'CloudEvents subject (the entity id by convention); empty when absent',
    entity_id String COMMENT 'Id of the entity the event carries the state of (finding_id, run_id, ...)',
    data_schema String COMMENT 'CloudEvents dataschema; empty means contract v1',
    payload String COMMENT 'The whole event as structured-mode CloudEvents JSON, unknown fields included',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYear(event_time) -- yearly: see 0002_typed_tables.sql
ORDER BY (event_source, event_id);
