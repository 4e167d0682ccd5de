-- Distinct events in events_raw (event identity = source + id), however
-- often replays wrote them.
SELECT count() FROM (SELECT event_source, event_id FROM events_raw GROUP BY event_source, event_id)
