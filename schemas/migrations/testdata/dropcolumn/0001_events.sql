CREATE TABLE IF NOT EXISTS events
(
    id String COMMENT 'Event id',
    legacy String COMMENT 'A column a later migration drops'
)
ENGINE = MergeTree
ORDER BY id;
