-- Whether the database already has the raw events table (a server the
-- demo did not start may hold another run's data).
SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events_raw'
