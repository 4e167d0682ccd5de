-- Current releases accept IF EXISTS here, 18.16 does not: the runner
-- strips it and skips the DROP when the column is gone.
ALTER TABLE events DROP COLUMN IF EXISTS legacy;
