-- ALTER cannot say IF NOT EXISTS on 18.16: only the lock keeps two
-- concurrent runners from both running it.
ALTER TABLE events ADD COLUMN subject String DEFAULT '';

CREATE VIEW IF NOT EXISTS latest_events AS
SELECT event_source, event_id, argMax(event_time, kafka_offset) AS event_time
FROM events
GROUP BY event_source, event_id;

INSERT INTO notes (note_id, body) SELECT 'seed', 'inserted by a migration';
