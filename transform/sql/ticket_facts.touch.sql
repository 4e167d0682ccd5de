-- Tickets to recompute: new or changed ticket events, and tickets whose
-- incident window can have changed: tickets of accounts named (in any
-- version) by incidents with new events, created within 30 days after a
-- detection time (in any version) of those incidents. after_incident_30d
-- and incidents_30d count incidents detected in the 30 days up to the
-- ticket's creation, so no other ticket's figures can change.
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'ticket_facts', ticket_id FROM ticket_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'ticket_facts', ticket_id
FROM
(
    SELECT ticket_id, account_id, created_at FROM ticket_facts
    WHERE account_id {{.In}} (
        SELECT arrayJoin(affected_account_ids) FROM incident_events
        WHERE incident_id {{.In}} (SELECT incident_id FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until)))
) AS l1
ALL INNER JOIN
(
    -- One row per account and detection time (a lambda over a joined
    -- column is refused by 18.16 here).
    SELECT DISTINCT arrayJoin(affected_account_ids) AS account_id, detected_at FROM incident_events
    WHERE incident_id {{.In}} (SELECT incident_id FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
) AS r1 USING account_id
WHERE detected_at <= created_at AND detected_at >= created_at - 30 * 86400
