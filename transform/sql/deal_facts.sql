-- deal_facts: closed opportunities (latest state by event time) with the
-- security review named by security_review_id (latest state) and its
-- turnaround bucket.
--
-- An incremental refresh recomputes the touched deals in two statements
-- (as ticket_facts.sql does), after marking in the working set
-- deal_facts/new the deals whose newest event written since the watermark
-- is later than every older event (reading only the deal id, event time
-- and insert time of the older events): the first takes their state from
-- those new events alone, and their reviews from the review ids those
-- events name; the second recomputes the other touched deals (a late
-- event, a changed review) from every event, reading their granules only
-- (PREWHERE). A deal that is not closed gets no row from either.
--
-- The latest state's fields, and an event's lifecycle rank (ties of
-- event time), shared by the incremental and the full recompute.
{{define "fields"}}tuple(account_id, account_name, segment, region, industry, deal_type, stage, amount_usd,
                         created_at, closed_at, outcome, loss_reason, security_review_required, security_review_id,
                         event_time, event_source, event_id, kafka_topic, kafka_partition, kafka_offset){{end}}
{{- define "rank"}}multiIf(event_type = 'crm.opportunity.created', 1, event_type = 'crm.opportunity.stage_changed', 2, 3){{end}}
{{- define "latest"}}ORDER BY opportunity_id, event_time DESC, {{template "rank"}} DESC, event_id DESC,
            -- Duplicate deliveries of one event tie on everything above; the
            -- copy the table's ReplacingMergeTree keeps (latest ingested_at)
            -- wins, so lineage is the same before and after merges.
            ingested_at DESC, kafka_partition DESC, kafka_offset DESC
        LIMIT 1 BY opportunity_id{{end -}}
{{define "head"}}INSERT INTO {{.Table}} (opportunity_id, account_id, account_name, segment, region, industry, deal_type, stage,
    amount_usd, created_at, closed_at, cycle_days, outcome, won, loss_reason, review_required, review_id,
    review_channel, review_requested_at, review_completed_at, review_effort_hours, review_turnaround_days,
    review_bucket, landmark_bucket, last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset)
SELECT
    opportunity_id, account_id, account_name, segment, region, industry, deal_type, stage,
    amount_usd, created_at, closed_at,
    (toInt64(closed_at) - toInt64(created_at)) / 86400 AS cycle_days,
    outcome, won, loss_reason, review_required, review_id,
    if(has_review = 1, r_channel, NULL) AS review_channel,
    if(has_review = 1, r_requested_at, NULL) AS review_requested_at,
    if(has_review = 1, r_completed_at, NULL) AS review_completed_at,
    if(has_review = 1, r_effort_hours, NULL) AS review_effort_hours,
    if(has_review = 1 AND isNotNull(r_completed_at), (toInt64(assumeNotNull(r_completed_at)) - toInt64(r_requested_at)) / 86400, NULL) AS review_turnaround_days,
    multiIf(review_required = 0, 'none',
            has_review = 0 OR isNull(r_completed_at) OR assumeNotNull(r_completed_at) > closed_at, 'incomplete',
            toInt64(assumeNotNull(r_completed_at)) - toInt64(r_requested_at) <= 5 * 86400, 'fast',
            toInt64(assumeNotNull(r_completed_at)) - toInt64(r_requested_at) <= 15 * 86400, 'medium',
            'slow') AS review_bucket,
    -- What was known at the landmark, 15 days after the review request (or at
    -- the close, when that came first): a review still pending at the landmark
    -- makes the deal slow whatever happened later, so deals lost while their
    -- review was pending stay in the fast-vs-slow comparison.
    multiIf(review_required = 0, 'none',
            has_review = 1 AND isNotNull(r_completed_at) AND assumeNotNull(r_completed_at) <= closed_at
                AND toInt64(assumeNotNull(r_completed_at)) - toInt64(r_requested_at) <= 5 * 86400, 'fast',
            has_review = 1 AND isNotNull(r_completed_at) AND assumeNotNull(r_completed_at) <= closed_at
                AND toInt64(assumeNotNull(r_completed_at)) - toInt64(r_requested_at) <= 15 * 86400, 'medium',
            has_review = 1 AND toInt64(closed_at) > toInt64(r_requested_at) + 15 * 86400, 'slow',
            'incomplete') AS landmark_bucket,
    last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset
FROM
(
    SELECT
        opportunity_id,
        tupleElement(s, 1) AS account_id,
        tupleElement(s, 2) AS account_name,
        tupleElement(s, 3) AS segment,
        tupleElement(s, 4) AS region,
        tupleElement(s, 5) AS industry,
        tupleElement(s, 6) AS deal_type,
        tupleElement(s, 7) AS stage,
        toFloat64(tupleElement(s, 8)) AS amount_usd,
        tupleElement(s, 9) AS created_at,
        ifNull(tupleElement(s, 10), tupleElement(s, 15)) AS closed_at,
        tupleElement(s, 11) AS outcome,
        toUInt8(tupleElement(s, 11) = 'won') AS won,
        tupleElement(s, 12) AS loss_reason,
        toUInt8(tupleElement(s, 13)) AS review_required,
        tupleElement(s, 14) AS review_id,
        ifNull(tupleElement(s, 14), '') AS review_key,
        tupleElement(s, 15) AS last_event_time,
        tupleElement(s, 16) AS last_event_source,
        tupleElement(s, 17) AS last_event_id,
        tupleElement(s, 18) AS kafka_topic,
        tupleElement(s, 19) AS kafka_partition,
        tupleElement(s, 20) AS kafka_offset
{{end}}
{{- define "join"}}    WHERE outcome IN ('won', 'lost', 'no_decision')
) AS l1
ALL LEFT JOIN
(
    SELECT
        review_id AS review_key,
        toUInt8(1) AS has_review,
        tupleElement(r, 1) AS r_channel,
        tupleElement(r, 2) AS r_requested_at,
        tupleElement(r, 3) AS r_completed_at,
        toFloat64(tupleElement(r, 4)) AS r_effort_hours
    FROM
    (
        SELECT
            review_id,
            argMax(tuple(channel, requested_at, completed_at, effort_hours),
                   tuple(event_time, multiIf(event_type = 'security.review.requested', 1, event_type = 'security.review.updated', 2, 3), event_id)) AS r
{{end}}
{{- define "reviews"}}        GROUP BY review_id
    )
) AS r1 USING review_key{{end}}
{{- if .Incremental}}
INSERT INTO transform_keys (model, key)
SELECT 'deal_facts/new', opportunity_id
FROM
(
    SELECT opportunity_id, max(event_time) AS new_time
    FROM (SELECT * FROM opportunity_events
    PREWHERE inserted_at >= toDateTime(@since)
    WHERE opportunity_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deal_facts'))
    GROUP BY opportunity_id
) AS w
ALL INNER JOIN
(
    SELECT opportunity_id, maxIf(event_time, inserted_at < toDateTime(@since)) AS old_time,
        countIf(inserted_at < toDateTime(@since)) AS old_events
    FROM (SELECT * FROM opportunity_events
    WHERE opportunity_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deal_facts'))
    GROUP BY opportunity_id
) AS o USING opportunity_id
WHERE old_events = 0 OR new_time > old_time;
{{template "head" .}}    FROM
    (
        -- The latest of its new events (their argMax, without the
        -- aggregate state of a wide tuple per row).
        SELECT opportunity_id, {{template "fields"}} AS s
        FROM (SELECT * FROM opportunity_events
        PREWHERE inserted_at >= toDateTime(@since)
        WHERE opportunity_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deal_facts/new'))
        {{template "latest"}}
    )
{{template "join" .}}        FROM (SELECT * FROM review_events
        WHERE review_id {{.In}} (SELECT review_key FROM (
            SELECT ifNull(security_review_id, '') AS review_key FROM opportunity_events
            PREWHERE inserted_at >= toDateTime(@since)
            WHERE opportunity_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deal_facts/new'))))
{{template "reviews" .}};
{{end -}}
{{template "head" .}}    FROM
    (
        -- The latest event of each deal, sorted out rather than taken by
        -- argMax (as deployment_facts.sql does).
        SELECT opportunity_id, {{template "fields"}} AS s
        FROM (SELECT * FROM opportunity_events
        {{- if .Incremental}}
        -- The touched deals the statement above did not write: only their
        -- granules are read.
        PREWHERE opportunity_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deal_facts'
            AND key NOT IN (SELECT key FROM transform_keys WHERE model = 'deal_facts/new'))
        {{- end}})
        {{template "latest"}}
    )
{{template "join" .}}        FROM (SELECT * FROM review_events
        {{- if .Incremental}}
        WHERE review_id {{.In}} (SELECT review_key FROM (
            SELECT ifNull(security_review_id, '') AS review_key FROM opportunity_events
            PREWHERE opportunity_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deal_facts'
                AND key NOT IN (SELECT key FROM transform_keys WHERE model = 'deal_facts/new'))))
        {{- end}})
{{template "reviews" .}}
