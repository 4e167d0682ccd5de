CREATE TABLE IF NOT EXISTS events
(
    id String COMMENT 'Event id'
)
ENGINE = MergeTree
ORDER BY id;
