-- ticket_facts: latest state per ticket and whether its account was hit by
-- a security incident in the 30 days before the ticket was created.
--
-- An incremental refresh recomputes the touched tickets in two statements
-- (as deployment_facts.sql does): the first takes the state from the events
-- written since the watermark alone, for the tickets whose newest of those
-- is later than every older event, reading only the ticket id, event time
-- and insert time of the older events; the second recomputes the others
-- from every event, reading their granules only (PREWHERE).
{{define "head"}}INSERT INTO {{.Table}} (ticket_id, account_id, status, priority, channel, tags, security_related, incident_id,
    created_at, first_reply_at, solved_at, csat_score, csat_at, after_incident_30d, incidents_30d,
    last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset)
SELECT
    ticket_id, account_id, status, priority, channel, tags, security_related, incident_id,
    created_at, first_reply_at, solved_at, csat_score, csat_at,
    toUInt8(n30 > 0), toUInt32(n30),
    last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset
FROM
(
SELECT
    ticket_id, account_id, status, priority, channel, tags, security_related, incident_id,
    created_at, first_reply_at, solved_at, csat_score, csat_at,
    -- One joined row per ticket (incidents are pre-grouped per account), so no
    -- wide GROUP BY after the join.
    arrayCount(d -> d >= created_at - 30 * 86400 AND d <= created_at, inc_times) AS n30,
    last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset
FROM
(
    SELECT
        ticket_id,
        tupleElement(s, 1) AS account_id,
        tupleElement(s, 2) AS status,
        tupleElement(s, 3) AS priority,
        tupleElement(s, 4) AS channel,
        tupleElement(s, 5) AS tags,
        toUInt8(tupleElement(s, 6)) AS security_related,
        tupleElement(s, 7) AS incident_id,
        tupleElement(s, 8) AS created_at,
        tupleElement(s, 9) AS first_reply_at,
        tupleElement(s, 10) AS solved_at,
        toUInt8(tupleElement(s, 11)) AS csat_score,
        tupleElement(s, 12) AS csat_at,
        tupleElement(s, 13) AS last_event_time,
        tupleElement(s, 14) AS last_event_source,
        tupleElement(s, 15) AS last_event_id,
        tupleElement(s, 16) AS kafka_topic,
        tupleElement(s, 17) AS kafka_partition,
        tupleElement(s, 18) AS kafka_offset
{{end}}
{{- define "tail"}}) AS l1
ALL LEFT JOIN
(
    -- Detection times of the incidents (latest state) affecting each account.
    SELECT account_id, groupArray(inc_detected_at) AS inc_times
    FROM
    (
        SELECT
            incident_id,
            tupleElement(argMax(tuple(affected_account_ids, detected_at), tuple(event_time, event_id)), 1) AS accounts,
            tupleElement(argMax(tuple(affected_account_ids, detected_at), tuple(event_time, event_id)), 2) AS inc_detected_at
        FROM (SELECT * FROM incident_events)
        GROUP BY incident_id
    )
    ARRAY JOIN accounts AS account_id
    GROUP BY account_id
) AS r1 USING account_id
){{end}}
{{- define "fields"}}tuple(account_id, status, priority, channel, tags, security_related, incident_id, created_at,
                         first_reply_at, solved_at, csat_score, csat_at, event_time, event_source, event_id,
                         kafka_topic, kafka_partition, kafka_offset){{end}}
{{- define "rank"}}multiIf(event_type = 'support.ticket.created', 1, event_type = 'support.ticket.updated', 2,
                                             event_type = 'support.ticket.solved', 3, 4){{end}}
{{- define "latest"}}ORDER BY ticket_id, event_time DESC, {{template "rank"}} DESC, event_id DESC,
                -- Duplicate deliveries of one event tie on everything above; the
                -- copy the table's ReplacingMergeTree keeps (latest ingested_at)
                -- wins, so lineage is the same before and after merges.
                ingested_at DESC, kafka_partition DESC, kafka_offset DESC
            LIMIT 1 BY ticket_id{{end}}
{{- if .Incremental}}
{{template "head" .}}    FROM
    (
        SELECT ticket_id, s
        FROM
        (
            -- The latest of its new events (their argMax, without the
            -- aggregate state of a wide tuple per row).
            SELECT ticket_id, {{template "fields"}} AS s, event_time AS new_time
            FROM (SELECT * FROM ticket_events
            PREWHERE inserted_at >= toDateTime(@since)
            WHERE ticket_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'ticket_facts'))
            {{template "latest"}}
        ) AS w
        ALL INNER JOIN
        (
            SELECT ticket_id, maxIf(event_time, inserted_at < toDateTime(@since)) AS old_time,
                countIf(inserted_at < toDateTime(@since)) AS old_events
            FROM (SELECT * FROM ticket_events
            WHERE ticket_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'ticket_facts'))
            GROUP BY ticket_id
        ) AS o USING ticket_id
        WHERE old_events = 0 OR new_time > old_time
    )
{{template "tail" .}};
{{end -}}
{{template "head" .}}    FROM
    (
        -- The latest event of each ticket, sorted out rather than taken by
        -- argMax (as deployment_facts.sql does).
        SELECT ticket_id, {{template "fields"}} AS s
        FROM (SELECT * FROM ticket_events
        {{- if .Incremental}}
        -- The touched tickets the statement above did not write: only their
        -- granules are read.
        PREWHERE ticket_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'ticket_facts'
            AND key NOT IN (SELECT ticket_id FROM {{.Table}}))
        {{- end}})
        {{template "latest"}}
    )
{{template "tail" .}}
