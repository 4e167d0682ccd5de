-- Rated tickets created in the period by accounts that some security
-- incident affected: after_incident_30d = 1 are the tickets within 30 days
-- after an incident, the others are the same accounts' own baseline.
SELECT account_id, after_incident_30d, toFloat64(assumeNotNull(csat_score)) AS score
FROM ticket_facts
WHERE created_at >= toDateTime(@from) AND created_at < toDateTime(@to)
    AND isNotNull(csat_score)
    AND account_id IN
    (
        SELECT arrayJoin(accounts)
        FROM
        (
            SELECT argMax(affected_account_ids, tuple(event_time, event_id)) AS accounts
            FROM incident_events
            GROUP BY incident_id
        )
    )
ORDER BY ticket_id
