-- Current releases accept IF NOT EXISTS here, 18.16 does not: the runner
-- strips it and skips the ADD when the column exists.
ALTER TABLE events ADD COLUMN IF NOT EXISTS subject String DEFAULT '' COMMENT 'Subject';
