-- Bookkeeping tables of impact transform (created if missing, never dropped).
CREATE TABLE IF NOT EXISTS transform_state (
    model String COMMENT 'Model (table) name, * for the global ingest watermark, or *started for the marker every refresh writes (version: its run id) before it changes a table, which tells a process that keeps impact_stats'' reads between refreshes that another refresh ran.',
    version String COMMENT 'Hash of the model''s SQL and SLA policy the table was built with; a change forces a full rebuild.',
    watermark DateTime COMMENT 'For *: the next refresh reads typed rows stamped (inserted_at) from here on; server clock at the start of the last successful refresh, less running inserts and the overlap.',
    updated_at DateTime COMMENT 'When this row was written.'
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY model;
CREATE TABLE IF NOT EXISTS transform_runs (
    run_id String COMMENT 'Identity of one refresh run.',
    started_at DateTime COMMENT 'When the run started (UTC).',
    table_name String COMMENT 'Table refreshed, or * for the whole run.',
    mode String COMMENT 'full or incremental.',
    duration_ms UInt64 COMMENT 'Wall time of this table''s refresh (or of the whole run for *), milliseconds.',
    rows UInt64 COMMENT 'Rows in the table after the refresh (for *: total over all tables).',
    touched UInt64 COMMENT 'Entities recomputed by an incremental refresh (0 for full).'
) ENGINE = MergeTree ORDER BY (started_at, run_id, table_name);
CREATE TABLE IF NOT EXISTS transform_keys (
    model String COMMENT 'Model whose entities changed; model/name for a working set the model keeps during the refresh (dora_changes/times and dora_changes/buckets: the window-long time buckets, per service, around the changed times and of the recomputed changes; deal_facts/new: the touched deals whose latest event is one written since the watermark).',
    key String COMMENT 'Entity key to recompute in the running incremental refresh; for a working set, its value (for the dora_changes buckets: bucket and service_id separated by a space).'
) ENGINE = MergeTree ORDER BY (model, key)
