-- inserted_at: when the server wrote the row, for the transform's
-- incremental watermark. ingested_at is the ingester's fetch time; a batch
-- that retries through a ClickHouse outage lands long after it, so a
-- watermark on ingested_at skipped such rows (issue 13, item 7). The
-- column is MATERIALIZED: the server stamps it (now()) as it writes each
-- block, writers cannot set it, and SELECT * does not show it.
-- Rows written before this migration have no stored value and read as the
-- time of the query; the transform reads only rows stamped before its run
-- began (transform/refresh.go), so they never look new, and the first
-- refresh after this change is a full one (its model SQL changed). A merge
-- that rewrites such a part stores the merge time: its entities are then
-- recomputed once more, which costs work but never changes a result.
-- IF NOT EXISTS is for current releases; the runner strips it for 18.16
-- and skips an ADD COLUMN whose column exists. The comment is set by its
-- own statement: 18.16 ignores COMMENT in ADD COLUMN.
ALTER TABLE finding_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE finding_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE gate_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE gate_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE incident_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE incident_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE policy_exception_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE policy_exception_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE review_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE review_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE vendor_assessment_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE vendor_assessment_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE deployment_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE deployment_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE opportunity_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE opportunity_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE ticket_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE ticket_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
ALTER TABLE service_events ADD COLUMN IF NOT EXISTS inserted_at DateTime MATERIALIZED now();
ALTER TABLE service_events COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';
