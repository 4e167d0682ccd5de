-- Test-only migrations for the runner's own tests (the real ones are the
-- NNNN_*.sql files of the package directory).
CREATE TABLE IF NOT EXISTS events
(
    event_source String,
    event_id String,
    event_time DateTime,
    kafka_offset Int64,
    legacy String DEFAULT ''
)
ENGINE = ReplacingMergeTree(kafka_offset)
ORDER BY (event_source, event_id);

CREATE TABLE IF NOT EXISTS notes
(
    note_id String,
    body String
)
ENGINE = ReplacingMergeTree
ORDER BY note_id;
