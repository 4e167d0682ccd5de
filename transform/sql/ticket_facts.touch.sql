-- Tickets to recompute: new or changed ticket events, and tickets of
-- accounts named (in any version) by incidents with new events.
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'ticket_facts', ticket_id FROM ticket_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'ticket_facts', ticket_id FROM ticket_facts
WHERE account_id IN (
    SELECT arrayJoin(affected_account_ids) FROM incident_events
    WHERE incident_id IN (SELECT incident_id FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until)))
