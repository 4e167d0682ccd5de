-- A column dropped again: per shard, skipped where the table is already
-- without it (a runner that died half way through the shards).
ALTER TABLE events DROP COLUMN IF EXISTS legacy;
