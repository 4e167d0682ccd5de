-- Bookkeeping tables of impact transform (created if missing, never dropped).
CREATE TABLE IF NOT EXISTS transform_state (
    model String COMMENT 'Model (table) name, * for the global ingest watermark, or *started for the marker every refresh writes (version: its run id) before it changes a table, which tells a process that keeps impact_stats'' reads between refreshes that another refresh ran.',
    version String COMMENT 'Hash of the model''s SQL and SLA policy the table was built with; a change forces a full rebuild.',
    watermark DateTime COMMENT 'For *: the next refresh reads typed rows stamped (inserted_at) from here on; server clock at the start of the last successful refresh, less running inserts and the overlap.',
    updated_at DateTime COMMENT 'When this row was written.'
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY model;

CREATE TABLE IF NOT EXISTS transform_runs (
    run_id String COMMENT 'Identity of one refresh run.',
    started_at DateTime COMMENT 'When the run started (UTC).',
    table_name String COMMENT 'Table refreshed, or * for the whole run.',
    mode String COMMENT 'full or incremental.',
    duration_ms UInt64 COMMENT 'Wall time of this table''s refresh (or of the whole run for *), milliseconds.',
    rows UInt64 COMMENT 'Rows in the table after the refresh (for *: total over all tables).',
    touched UInt64 COMMENT 'Entities recomputed by an incremental refresh (0 for full).'
) ENGINE = MergeTree ORDER BY (started_at, run_id, table_name);

CREATE TABLE IF NOT EXISTS transform_keys (
    model String COMMENT 'Model whose entities changed; model/name for a working set the model keeps during the refresh (dora_changes/times and dora_changes/buckets: the window-long time buckets, per service, around the changed times and of the recomputed changes; deal_facts/new: the touched deals whose latest event is one written since the watermark).',
    key String COMMENT 'Entity key to recompute in the running incremental refresh; for a working set, its value (for the dora_changes buckets: bucket and service_id separated by a space).'
) ENGINE = MergeTree ORDER BY (model, key);

TRUNCATE TABLE transform_keys;

DROP TABLE IF EXISTS findings_next;

CREATE TABLE IF NOT EXISTS findings_next (
    finding_id String COMMENT 'Finding id from the scanner (entity id of security.finding.* events).',
    scanner String COMMENT 'Scanner or source that reported the finding.',
    category String COMMENT 'sca, sast, dast, container, cloud, secret, pentest or other.',
    title Nullable(String) COMMENT 'Finding title, when sent.',
    cve_id Nullable(String) COMMENT 'CVE identifier, when known.',
    cwe_id Nullable(String) COMMENT 'CWE identifier, when known.',
    severity String COMMENT 'critical, high, medium, low or info (latest state).',
    cvss Nullable(Float64) COMMENT 'CVSS base score, when sent.',
    epss Nullable(Float64) COMMENT 'EPSS probability, when sent.',
    kev Nullable(UInt8) COMMENT '1 when listed in CISA KEV, when sent.',
    service_id String COMMENT 'Service the finding belongs to (catalog service_id).',
    repo Nullable(String) COMMENT 'Source repository, when sent.',
    status String COMMENT 'open, fixed or dismissed (latest state by event time).',
    detected_at DateTime COMMENT 'When the finding was first detected (UTC).',
    fixed_at Nullable(DateTime) COMMENT 'When it was fixed; null unless fixed.',
    dismissed_at Nullable(DateTime) COMMENT 'When it was dismissed; null unless dismissed.',
    dismissed_reason Nullable(String) COMMENT 'Why it was dismissed, when sent.',
    internet_facing Nullable(UInt8) COMMENT '1 when the affected asset is internet facing, when sent.',
    team String COMMENT 'Owning team from the service catalog as of detected_at (latest effective_at <= detected_at); empty when the catalog has no entry by then.',
    department String COMMENT 'Owning department from the service catalog as of detected_at; empty when unknown.',
    days_to_fix Nullable(Float64) COMMENT '(fixed_at - detected_at) in days when status is fixed, else null.',
    sla_due_at Nullable(DateTime) COMMENT 'Remediation due date: the sla_due_at the source sent, else detected_at + the transform''s SLA policy days of the severity (default critical 15, high 30, medium 90, low 180); null for info.',
    within_sla Nullable(UInt8) COMMENT 'fixed: 1 when fixed_at <= sla_due_at else 0; open: 0 once overdue as of the refresh as-of time, null while not yet due; dismissed: 0 when dismissed after sla_due_at (already overdue), null when dismissed in time; no SLA: null.',
    sla_cohort_month Nullable(Date) COMMENT 'Due-date cohort: first day of the month sla_due_at fell in, when within_sla is not null and sla_due_at <= the as-of time; null otherwise. SLA compliance of a period = avg(within_sla) over findings whose sla_cohort_month is in it.',
    reopened UInt8 COMMENT '1 when the finding has a security.finding.reopened event.',
    event_count UInt32 COMMENT 'Distinct events (source+id) of this finding.',
    first_event_time DateTime COMMENT 'Time of the earliest event of this finding.',
    last_event_time DateTime COMMENT 'Time of the event that gave the latest state.',
    last_event_type String COMMENT 'Lineage: type of the event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of the event that gave the latest state.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of the event that gave the latest state.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of the event that gave the latest state.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Open findings change most (fixes, SLA), so they share a partition; a
-- closed finding sits in the month of its last event, where it rarely
-- changes again.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY if(status = 'open', 0, toYYYYMM(last_event_time))
ORDER BY finding_id;

-- A layer table (a layered model's base or delta) keeps a 64-bit hash of
-- each row's key beside the model's columns, which the view (it names the
-- model's columns) does not show. The view takes the delta's entities out
-- of the base by this hash: a set of integers probed with the integers of
-- one column, where the keys themselves (strings of some 30 bytes) cost
-- 0.07-0.1 s of server CPU per read of the view at 10M events, in each of
-- the five or so reads of a refresh. A base row whose hash a delta row has
-- but not its key would be hidden: before a delta is kept, buildLayered
-- looks for such a row (layer_collisions.sql) and folds instead.
ALTER TABLE findings_next ADD COLUMN layer_key_hash UInt64 DEFAULT sipHash64(finding_id);

-- findings: latest state per finding by event time (ties: lifecycle order,
-- then event id), team and department from the catalog as of detection,
-- SLA due date and compliance as of 1782864000. Duplicate deliveries of an event
-- are identical rows, so argMax needs no FINAL.
--
-- The SLA rule lives here and only here: the due date is the one the source
-- sent (sla_policy_version empty; rows of older releases whose decoder
-- derived a date carry its policy version and are re-derived), else
-- detected_at + the refresh's policy. within_sla: fixed by the due date 1,
-- fixed after it 0; open past it 0; dismissed after it was already overdue
-- 0, dismissed in time null; open and not yet due null. sla_cohort_month is
-- the month the due date fell in, for decided findings due by 1782864000: every
-- SLA compliance figure counts within_sla by it (the due-date cohort), so a
-- late fix never changes a past month.
--
-- An incremental refresh recomputes the touched findings in two
-- statements. The first reads the narrow columns of every event of the
-- touched findings (the lifecycle order, the counters) but the wide state
-- only from the events written since the watermark; it writes the findings
-- whose latest event is one of those (nearly all). The second recomputes
-- the others (a late event, a catalog change, an SLA flip) from every
-- event, as a full refresh does. Reading every column of every event of
-- 2% of the findings meant reading every granule of finding_events (the
-- touched findings are spread over all of them); the new events sit in
-- the newest parts.
--
-- The full statement picks the latest event by its order key: the order as
-- one String whose bytes sort as the order tuple does (numbers as hex of a
-- fixed width, the event id with its NUL bytes escaped and a NUL after it),
-- so that max() compares bytes instead of building a tuple per row.

INSERT INTO findings_next (finding_id, scanner, category, title, cve_id, cwe_id, severity, cvss, epss, kev,
    service_id, repo, status, detected_at, fixed_at, dismissed_at, dismissed_reason, internet_facing,
    team, department, days_to_fix, sla_due_at, within_sla, sla_cohort_month, reopened, event_count, first_event_time,
    last_event_time, last_event_type, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset)
SELECT
    finding_id,
    tupleElement(s, 1) AS scanner,
    tupleElement(s, 2) AS category,
    tupleElement(s, 3) AS title,
    tupleElement(s, 4) AS cve_id,
    tupleElement(s, 5) AS cwe_id,
    sev AS severity,
    tupleElement(s, 6) AS cvss,
    tupleElement(s, 7) AS epss,
    tupleElement(s, 8) AS kev,
    svc AS service_id,
    tupleElement(s, 9) AS repo,
    st AS status,
    det AS detected_at,
    fix AS fixed_at,
    tupleElement(s, 10) AS dismissed_at,
    tupleElement(s, 11) AS dismissed_reason,
    tupleElement(s, 12) AS internet_facing,
    tupleElement(org, 1) AS team,
    tupleElement(org, 2) AS department,
    if(st = 'fixed' AND isNotNull(fix), (toInt64(assumeNotNull(fix)) - toInt64(det)) / 86400, NULL) AS days_to_fix,
    due_at AS sla_due_at,
    multiIf(isNull(due_at), NULL,
        st = 'fixed' AND isNotNull(fix), toUInt8(assumeNotNull(fix) <= assumeNotNull(due_at)),
        st = 'open' AND assumeNotNull(due_at) < toDateTime(1782864000), toUInt8(0),
        st = 'dismissed' AND assumeNotNull(due_at) < ifNull(tupleElement(s, 10), tupleElement(s, 14)), toUInt8(0),
        NULL) AS within_sla,
    if(isNotNull(within_sla) AND assumeNotNull(due_at) <= toDateTime(1782864000), toStartOfMonth(assumeNotNull(due_at)), NULL) AS sla_cohort_month,
    reop AS reopened,
    evn AS event_count,
    first_t AS first_event_time,
    tupleElement(s, 14) AS last_event_time,
    tupleElement(s, 15) AS last_event_type,
    tupleElement(s, 16) AS last_event_source,
    tupleElement(s, 17) AS last_event_id,
    tupleElement(s, 18) AS kafka_topic,
    tupleElement(s, 19) AS kafka_partition,
    tupleElement(s, 20) AS kafka_offset
FROM
(
    SELECT
        finding_id, s, severity AS sev, service_id AS svc, status AS st, detected_at AS det, fixed_at AS fix,
        due AS due_at, reopened AS reop, event_count AS evn, first_event_time AS first_t,
        -- The catalog version in force at detection: the last of the service's
        -- versions (sorted by effective_at, event time, event id) effective by then.
        arrayElement(arrayFilter(v -> tupleElement(v, 1) <= detected_at, versions), -1) AS cat,
        tuple(tupleElement(cat, 4), tupleElement(cat, 5)) AS org
    FROM
    (
        SELECT
            finding_id, s,
            tupleElement(s, 21) AS severity,
            tupleElement(s, 22) AS service_id,
            tupleElement(s, 23) AS status,
            tupleElement(s, 24) AS detected_at,
            tupleElement(s, 25) AS fixed_at,
            multiIf(severity = 'critical', 1296000, severity = 'high', 2592000, severity = 'medium', 7776000,
                    severity = 'low', 15552000, severity = 'info', 0, 0) AS policy_seconds,
            -- The date the source sent wins; else the policy's, when it has one
            -- for the severity and DateTime can hold it.
            if(isNotNull(tupleElement(s, 13)) AND tupleElement(s, 26) = '', tupleElement(s, 13),
                if(policy_seconds > 0 AND toInt64(detected_at) + policy_seconds <= 4294967295,
                   toDateTime(toInt64(detected_at) + policy_seconds), NULL)) AS due,
            reopened, event_count, first_event_time
        FROM
        (
            -- The latest event: the finding's largest order key, then the
            -- event with that key (identical duplicate rows share it, hence
            -- LIMIT 1 BY; the key leaves out the source and the topic, so the
            -- join takes the finding too). An argMax over the state tuple cost
            -- as much CPU but kept a 26-field tuple per finding: 2 GB at 10M
            -- events and a page fault per 4 KiB of it, which made this the full
            -- refresh's longest statement.
            SELECT finding_id, s, reopened, event_count, first_event_time
            FROM
            (
                -- The state: elements 1-20 as named, 21-26 severity, service_id,
                -- status, detected_at, fixed_at, sla_policy_version.
                SELECT finding_id, tuple(scanner, category, title, cve_id, cwe_id, cvss, epss, kev, repo, dismissed_at,
                             dismissed_reason, internet_facing, sla_due_at, event_time, event_type, event_source,
                             event_id, kafka_topic, kafka_partition, kafka_offset,
                             severity, service_id, status, detected_at, fixed_at, sla_policy_version) AS s, concat(hex(toUInt64(event_time) + 4294967296), toString(multiIf(event_type = 'security.finding.opened', 1, event_type = 'security.finding.updated', 2,
                                                 event_type = 'security.finding.reopened', 3, 4)),
                             replaceAll(event_id, '\0', '\0\xFF'), '\0', hex(toUInt64(ingested_at) + 4294967296),
                             hex(toUInt64(toInt64(kafka_partition) + 2147483648) + 4294967296),
                             hex(bitXor(toUInt64(kafka_offset), 9223372036854775808))) AS k
                FROM (SELECT * FROM finding_events)
            ) AS l2
            ALL INNER JOIN
            (
                SELECT finding_id, max(concat(hex(toUInt64(event_time) + 4294967296), toString(multiIf(event_type = 'security.finding.opened', 1, event_type = 'security.finding.updated', 2,
                                                 event_type = 'security.finding.reopened', 3, 4)),
                             replaceAll(event_id, '\0', '\0\xFF'), '\0', hex(toUInt64(ingested_at) + 4294967296),
                             hex(toUInt64(toInt64(kafka_partition) + 2147483648) + 4294967296),
                             hex(bitXor(toUInt64(kafka_offset), 9223372036854775808)))) AS k,
                max(event_type = 'security.finding.reopened') AS reopened,
                toUInt32(uniqExact(cityHash64(event_source, event_id))) AS event_count,
                min(event_time) AS first_event_time
                FROM (SELECT finding_id, event_source, event_id, event_type, event_time, ingested_at, kafka_partition, kafka_offset
                FROM finding_events)
                GROUP BY finding_id
            ) AS r2 USING finding_id, k
            LIMIT 1 BY finding_id
        )
    ) AS l1
    ALL LEFT JOIN
    (
        SELECT service_id, arraySort(groupArray(tuple(effective_at, event_time, event_id, team, department))) AS versions
        FROM (SELECT * FROM service_events)
        GROUP BY service_id
    ) AS r1 USING service_id
);

DROP TABLE IF EXISTS findings_base_a;

RENAME TABLE findings_next TO findings_base_a;

DROP TABLE IF EXISTS findings_next;

-- A layered model's table is this view: the rows of its base table, bar
-- the entities recomputed since the base was written, and those entities'
-- rows (its delta table). A refresh writes new tables under other names
-- and swaps this view; it never changes a table a published view reads.
-- RENAME waits for the queries reading the view it renames, so a query
-- reads the base and delta of one refresh, even though it names the delta
-- twice. The view names the model's columns, not the key hash the layer
-- tables keep for it (layer_key.sql).
CREATE VIEW findings_next AS
SELECT finding_id, scanner, category, title, cve_id, cwe_id, severity, cvss, epss, kev, service_id, repo, status, detected_at, fixed_at, dismissed_at, dismissed_reason, internet_facing, team, department, days_to_fix, sla_due_at, within_sla, sla_cohort_month, reopened, event_count, first_event_time, last_event_time, last_event_type, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset FROM findings_base_a;

RENAME TABLE findings_next TO findings;

DROP TABLE IF EXISTS findings_base_b;

DROP TABLE IF EXISTS findings_delta_a;

DROP TABLE IF EXISTS findings_delta_b;

DROP TABLE IF EXISTS deal_facts_next;

CREATE TABLE IF NOT EXISTS deal_facts_next (
    opportunity_id String COMMENT 'Opportunity id (entity id of crm.opportunity.* events).',
    account_id String COMMENT 'Customer account.',
    account_name Nullable(String) COMMENT 'Account name, when sent.',
    segment String COMMENT 'smb, mid_market or enterprise.',
    region Nullable(String) COMMENT 'Sales region, when sent.',
    industry Nullable(String) COMMENT 'Customer industry, when sent.',
    deal_type String COMMENT 'new, expansion or renewal.',
    stage String COMMENT 'CRM stage of the final state.',
    amount_usd Float64 COMMENT 'Deal amount in USD.',
    created_at DateTime COMMENT 'When the opportunity was created.',
    closed_at DateTime COMMENT 'When it closed (the event''s closed_at; the closing event''s time when absent).',
    cycle_days Float64 COMMENT 'Sales cycle: (closed_at - created_at) in days.',
    outcome String COMMENT 'won, lost or no_decision (only closed deals are rows).',
    won UInt8 COMMENT '1 when outcome is won; win rate = avg(won) (no_decision counts as not won).',
    loss_reason Nullable(String) COMMENT 'price, product, competitor, security, timing or other, when lost and sent.',
    review_required UInt8 COMMENT '1 when the deal required a customer security review (security_review_required).',
    review_id Nullable(String) COMMENT 'The review named by the opportunity''s security_review_id.',
    review_channel Nullable(String) COMMENT 'trust_center, questionnaire, call or redline, of that review (latest state).',
    review_requested_at Nullable(DateTime) COMMENT 'When the review was requested.',
    review_completed_at Nullable(DateTime) COMMENT 'When the review completed; null while not completed.',
    review_effort_hours Nullable(Float64) COMMENT 'Effort spent on the review, when sent.',
    review_turnaround_days Nullable(Float64) COMMENT '(review completed_at - requested_at) in days, when the review completed.',
    review_bucket String COMMENT 'none (no review required), fast (<= 5 days), medium (> 5 and <= 15), slow (> 15), incomplete (required but no completed review with completed_at <= closed_at).',
    landmark_bucket String COMMENT 'The review bucket by what was known 15 days after the review request (the landmark), the one every win-rate figure uses: none (no review required), fast (completed within 5 days and by the close), medium (within 15 days and by the close), slow (still pending 15 days after the request while the deal was open, whether it completed later or never), incomplete (closed before the landmark without a completed review, or no review record).',
    last_event_time DateTime COMMENT 'Time of the opportunity event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of that event.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of that event.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Every row is a closed deal, in the month it closed: new closes land in
-- the latest months.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY toYYYYMM(closed_at)
ORDER BY opportunity_id;

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
INSERT INTO deal_facts_next (opportunity_id, account_id, account_name, segment, region, industry, deal_type, stage,
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
    FROM
    (
        -- The latest event of each deal, sorted out rather than taken by
        -- argMax (as deployment_facts.sql does).
        SELECT opportunity_id, tuple(account_id, account_name, segment, region, industry, deal_type, stage, amount_usd,
                         created_at, closed_at, outcome, loss_reason, security_review_required, security_review_id,
                         event_time, event_source, event_id, kafka_topic, kafka_partition, kafka_offset) AS s
        FROM (SELECT * FROM opportunity_events)
        ORDER BY opportunity_id, event_time DESC, multiIf(event_type = 'crm.opportunity.created', 1, event_type = 'crm.opportunity.stage_changed', 2, 3) DESC, event_id DESC,
            -- Duplicate deliveries of one event tie on everything above; the
            -- copy the table's ReplacingMergeTree keeps (latest ingested_at)
            -- wins, so lineage is the same before and after merges.
            ingested_at DESC, kafka_partition DESC, kafka_offset DESC
        LIMIT 1 BY opportunity_id
    )
    WHERE outcome IN ('won', 'lost', 'no_decision')
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
        FROM (SELECT * FROM review_events)
        GROUP BY review_id
    )
) AS r1 USING review_key;

RENAME TABLE deal_facts_next TO deal_facts;

DROP TABLE IF EXISTS deployment_facts_next;

CREATE TABLE IF NOT EXISTS deployment_facts_next (
    deployment_id String COMMENT 'Deployment id (entity id of deployment.* events).',
    service_id String COMMENT 'Deployed service (catalog service_id).',
    team String COMMENT 'Owning team from the service catalog as of started_at; empty when unknown.',
    department String COMMENT 'Owning department from the service catalog as of started_at; empty when unknown.',
    environment String COMMENT 'Target environment.',
    commit_sha Nullable(String) COMMENT 'Deployed commit, when sent.',
    trigger String COMMENT 'feature, hotfix, security_fix, rollback or config.',
    started_at DateTime COMMENT 'When the deployment started.',
    finished_at Nullable(DateTime) COMMENT 'When it finished; null while in progress.',
    status String COMMENT 'in_progress, success, failure or rolled_back (latest state).',
    first_commit_at Nullable(DateTime) COMMENT 'Time of the first commit in the deployment, when sent.',
    lead_time_hours Nullable(Float64) COMMENT '(finished_at - first_commit_at) in hours; null unless both are set.',
    gate_blocked UInt8 COMMENT '1 when a gate run (latest state) for the same service_id and commit_sha has result fail and blocking = 1. Deployments without commit_sha cannot be matched to a gate and are 0.',
    gate_waived UInt8 COMMENT '1 when a blocking gate run for the same service_id and commit_sha was waived.',
    gate_runs UInt32 COMMENT 'Gate runs (distinct run_id) for the same service_id and commit_sha.',
    gate_wait_hours Nullable(Float64) COMMENT 'security_gate_wait_seconds / 3600, when sent.',
    fixes_finding_ids Array(String) COMMENT 'Findings this deployment fixes, as sent.',
    last_event_time DateTime COMMENT 'Time of the deployment event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of that event.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of that event.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Running deployments share a partition; a finished one sits in the
-- month of its last event.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY if(status = 'in_progress', 0, toYYYYMM(last_event_time))
ORDER BY deployment_id;

-- deployment_facts: latest state per deployment, gate outcome for the same
-- service and commit, owner from the catalog as of the deployment's start.
--
-- An incremental refresh recomputes the touched deployments in two
-- statements. The first takes the state from the events written since the
-- watermark alone, for the deployments whose newest of those is later than
-- every older event (nearly all: their latest event is a new one, so the
-- argMax over the new events is the argMax over all); it reads only the
-- deployment id, event time and insert time of the older events. The second
-- recomputes the others from every event, as a full refresh does, reading
-- their granules only (PREWHERE). Reading every column of every event of
-- the touched deployments meant reading every granule of deployment_events
-- (they are spread over all of them); the new events sit in the newest
-- parts.
INSERT INTO deployment_facts_next (deployment_id, service_id, team, department, environment, commit_sha, trigger,
    started_at, finished_at, status, first_commit_at, lead_time_hours, gate_blocked, gate_waived, gate_runs,
    gate_wait_hours, fixes_finding_ids, last_event_time, last_event_source, last_event_id, kafka_topic,
    kafka_partition, kafka_offset)
SELECT
    deployment_id, service_id,
    -- The catalog version in force when the deployment started.
    tupleElement(arrayElement(arrayFilter(v -> tupleElement(v, 1) <= started_at, versions), -1), 4),
    tupleElement(arrayElement(arrayFilter(v -> tupleElement(v, 1) <= started_at, versions), -1), 5),
    environment, commit_sha, trigger, started_at, finished_at, status, first_commit_at,
    lead_time_hours, gate_blocked, gate_waived, gate_runs, gate_wait_hours, fixes_finding_ids,
    last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset
FROM
(
    SELECT
        deployment_id, service_id, environment, commit_sha, trigger, started_at, finished_at, status,
        first_commit_at,
        if(isNotNull(finished_at) AND isNotNull(first_commit_at),
           (toInt64(assumeNotNull(finished_at)) - toInt64(assumeNotNull(first_commit_at))) / 3600, NULL) AS lead_time_hours,
        gate_blocked, gate_waived, gate_runs, gate_wait_hours, fixes_finding_ids,
        last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset
        FROM
        (
            SELECT
                deployment_id,
                tupleElement(s, 1) AS service_id,
                tupleElement(s, 2) AS environment,
                tupleElement(s, 3) AS commit_sha,
                tupleElement(s, 4) AS trigger,
                tupleElement(s, 5) AS started_at,
                tupleElement(s, 6) AS finished_at,
                tupleElement(s, 7) AS status,
                tupleElement(s, 8) AS first_commit_at,
                toFloat64(tupleElement(s, 9)) / 3600 AS gate_wait_hours,
                tupleElement(s, 10) AS fixes_finding_ids,
                tupleElement(s, 11) AS last_event_time,
                tupleElement(s, 12) AS last_event_source,
                tupleElement(s, 13) AS last_event_id,
                tupleElement(s, 14) AS kafka_topic,
                tupleElement(s, 15) AS kafka_partition,
                tupleElement(s, 16) AS kafka_offset,
                -- Gates match on service and commit; without a commit there is no honest match.
                -- A 64-bit hash of (service, commit) joins much faster than the strings.
                if(isNull(tupleElement(s, 3)), toUInt64(0), cityHash64(tupleElement(s, 1), assumeNotNull(tupleElement(s, 3)))) AS gate_key
            FROM
            (
                -- The latest event of each deployment, sorted out rather than
                -- taken by argMax: the aggregate state of a 16-field tuple per
                -- deployment cost 1.3-1.7 times the CPU of the sort (measured alone).
                SELECT deployment_id, tuple(service_id, environment, commit_sha, trigger, started_at, finished_at, status,
                                 first_commit_at, security_gate_wait_seconds, fixes_finding_ids, event_time,
                                 event_source, event_id, kafka_topic, kafka_partition, kafka_offset) AS s
                FROM (SELECT * FROM deployment_events)
                ORDER BY deployment_id, event_time DESC, multiIf(event_type = 'deployment.started', 1, 2) DESC, event_id DESC,
                -- Duplicate deliveries of one event tie on everything above; the
                -- copy the table's ReplacingMergeTree keeps (latest ingested_at)
                -- wins, so lineage is the same before and after merges.
                ingested_at DESC, kafka_partition DESC, kafka_offset DESC
            LIMIT 1 BY deployment_id
            )
        ) AS l1
        ALL LEFT JOIN
        (
            SELECT
                gate_key,
                max(result = 'fail' AND blocking = 1) AS gate_blocked,
                max(result = 'waived' AND blocking = 1) AS gate_waived,
                toUInt32(count()) AS gate_runs
            FROM
            (
                SELECT
                    run_id,
                    cityHash64(tupleElement(g, 1), tupleElement(g, 2)) AS gate_key,
                    tupleElement(g, 3) AS result,
                    tupleElement(g, 4) AS blocking
                FROM
                (
                    SELECT run_id,
                           argMax(tuple(service_id, assumeNotNull(commit_sha), result, toUInt8(blocking)), tuple(event_time, event_id)) AS g
                    FROM (SELECT * FROM gate_events
                    WHERE isNotNull(commit_sha))
                    GROUP BY run_id
                )
            )
            GROUP BY gate_key
        ) AS r1 USING gate_key
    ) AS l2
ALL LEFT JOIN
(
    SELECT service_id, arraySort(groupArray(tuple(effective_at, event_time, event_id, team, department))) AS versions
    FROM (SELECT * FROM service_events)
    GROUP BY service_id
) AS r2 USING service_id;

RENAME TABLE deployment_facts_next TO deployment_facts;

DROP TABLE IF EXISTS ticket_facts_next;

CREATE TABLE IF NOT EXISTS ticket_facts_next (
    ticket_id String COMMENT 'Support ticket id (entity id of support.ticket.* events).',
    account_id String COMMENT 'Customer account of the ticket.',
    status String COMMENT 'new, open, pending, solved or closed (latest state).',
    priority String COMMENT 'low, normal, high or urgent.',
    channel Nullable(String) COMMENT 'Support channel, when sent.',
    tags Array(String) COMMENT 'Ticket tags, as sent.',
    security_related UInt8 COMMENT '1 when the ticket is about security.',
    incident_id Nullable(String) COMMENT 'Incident the ticket refers to, when sent.',
    created_at DateTime COMMENT 'When the ticket was created.',
    first_reply_at Nullable(DateTime) COMMENT 'First agent reply, when sent.',
    solved_at Nullable(DateTime) COMMENT 'When it was solved; null while unsolved.',
    csat_score Nullable(UInt8) COMMENT 'Customer satisfaction rating 1-5 of the latest state; null when not rated.',
    csat_at Nullable(DateTime) COMMENT 'When it was rated.',
    after_incident_30d UInt8 COMMENT '1 when a security incident (latest state) listing this account in affected_account_ids was detected in the 30 days up to the ticket''s creation: created_at - 30 days <= detected_at <= created_at.',
    incidents_30d UInt32 COMMENT 'How many such incidents.',
    last_event_time DateTime COMMENT 'Time of the ticket event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of that event.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of that event.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Unsolved tickets change most, so they share a partition; a solved or
-- closed ticket sits in the month of its last event.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY if(status IN ('solved', 'closed'), toYYYYMM(last_event_time), 0)
ORDER BY ticket_id;

-- A layer table (a layered model's base or delta) keeps a 64-bit hash of
-- each row's key beside the model's columns, which the view (it names the
-- model's columns) does not show. The view takes the delta's entities out
-- of the base by this hash: a set of integers probed with the integers of
-- one column, where the keys themselves (strings of some 30 bytes) cost
-- 0.07-0.1 s of server CPU per read of the view at 10M events, in each of
-- the five or so reads of a refresh. A base row whose hash a delta row has
-- but not its key would be hidden: before a delta is kept, buildLayered
-- looks for such a row (layer_collisions.sql) and folds instead.
ALTER TABLE ticket_facts_next ADD COLUMN layer_key_hash UInt64 DEFAULT sipHash64(ticket_id);

-- ticket_facts: latest state per ticket and whether its account was hit by
-- a security incident in the 30 days before the ticket was created.
--
-- An incremental refresh recomputes the touched tickets in two statements
-- (as deployment_facts.sql does): the first takes the state from the events
-- written since the watermark alone, for the tickets whose newest of those
-- is later than every older event, reading only the ticket id, event time
-- and insert time of the older events; the second recomputes the others
-- from every event, reading their granules only (PREWHERE).
INSERT INTO ticket_facts_next (ticket_id, account_id, status, priority, channel, tags, security_related, incident_id,
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
    FROM
    (
        -- The latest event of each ticket, sorted out rather than taken by
        -- argMax (as deployment_facts.sql does).
        SELECT ticket_id, tuple(account_id, status, priority, channel, tags, security_related, incident_id, created_at,
                         first_reply_at, solved_at, csat_score, csat_at, event_time, event_source, event_id,
                         kafka_topic, kafka_partition, kafka_offset) AS s
        FROM (SELECT * FROM ticket_events)
        ORDER BY ticket_id, event_time DESC, multiIf(event_type = 'support.ticket.created', 1, event_type = 'support.ticket.updated', 2,
                                             event_type = 'support.ticket.solved', 3, 4) DESC, event_id DESC,
                -- Duplicate deliveries of one event tie on everything above; the
                -- copy the table's ReplacingMergeTree keeps (latest ingested_at)
                -- wins, so lineage is the same before and after merges.
                ingested_at DESC, kafka_partition DESC, kafka_offset DESC
            LIMIT 1 BY ticket_id
    )
) AS l1
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
);

DROP TABLE IF EXISTS ticket_facts_base_a;

RENAME TABLE ticket_facts_next TO ticket_facts_base_a;

DROP TABLE IF EXISTS ticket_facts_next;

-- A layered model's table is this view: the rows of its base table, bar
-- the entities recomputed since the base was written, and those entities'
-- rows (its delta table). A refresh writes new tables under other names
-- and swaps this view; it never changes a table a published view reads.
-- RENAME waits for the queries reading the view it renames, so a query
-- reads the base and delta of one refresh, even though it names the delta
-- twice. The view names the model's columns, not the key hash the layer
-- tables keep for it (layer_key.sql).
CREATE VIEW ticket_facts_next AS
SELECT ticket_id, account_id, status, priority, channel, tags, security_related, incident_id, created_at, first_reply_at, solved_at, csat_score, csat_at, after_incident_30d, incidents_30d, last_event_time, last_event_source, last_event_id, kafka_topic, kafka_partition, kafka_offset FROM ticket_facts_base_a;

RENAME TABLE ticket_facts_next TO ticket_facts;

DROP TABLE IF EXISTS ticket_facts_base_b;

DROP TABLE IF EXISTS ticket_facts_delta_a;

DROP TABLE IF EXISTS ticket_facts_delta_b;

DROP TABLE IF EXISTS finding_groups_next;

CREATE TABLE IF NOT EXISTS finding_groups_next (
    team String COMMENT 'Owning team (findings.team).',
    department String COMMENT 'Owning department (findings.department).',
    severity String COMMENT 'critical, high, medium, low or info.',
    status String COMMENT 'open, fixed or dismissed.',
    within_sla Nullable(UInt8) COMMENT 'findings.within_sla of the group: 1 fixed within the SLA, 0 not, null not decided yet.',
    sla_cohort_month Nullable(Date) COMMENT 'findings.sla_cohort_month of the group (the due-date cohort); null when not in one.',
    detected_month Date COMMENT 'Month of detected_at.',
    detected_before_as_of UInt8 COMMENT '1 when detected before as_of.',
    debt_age UInt8 COMMENT '1 for critical and high findings detected more than 365 days before as_of: security debt while they are open.',
    debt_month Date COMMENT 'When debt_age: the month detected_at + 365 days falls in (from then on an open finding is debt); else detected_month.',
    close_month Date COMMENT 'Month the finding was fixed or dismissed (fixed_at or dismissed_at, else its last event), when that was before as_of; else the month after the as-of month (still open at as_of).',
    fixed UInt8 COMMENT '1 when status is fixed and fixed_at is known.',
    fix_month Date COMMENT 'Month of fixed_at when fixed; else 1970-01-01.',
    findings UInt64 COMMENT 'Findings in the group.',
    days Array(Float64) COMMENT 'Each finding''s days from detected_at to its fix or dismissal (fixed_at or dismissed_at, else its last event), or to as_of while open: the times to fix, censored for open and dismissed findings; in ascending order.',
    as_of DateTime COMMENT 'The as-of time of the refresh that counted the groups.'
) ENGINE = MergeTree ORDER BY (department, team, severity, status);

-- finding_groups: findings counted by everything the figures of findings
-- group them by, as of 1782864000, from one read of findings. The department
-- scorecard's findings figures and impact_stats' (times to fix, SLA
-- compliance, security debt, fix capacity) read these groups, some 15,000
-- at 10M events, instead of reading every finding each (0.4-0.6 s of server
-- CPU per read at 10M events). The definitions stay where they were:
-- within_sla and sla_cohort_month are findings' (the SLA rule), the months
-- and the as-of tests are computed here once for both readers.
INSERT INTO finding_groups_next (team, department, severity, status, within_sla, sla_cohort_month, detected_month,
    detected_before_as_of, debt_age, debt_month, close_month, fixed, fix_month, findings, days, as_of)
SELECT team, department, severity, status, within_sla, sla_cohort_month, det_month, before, debt, debt_month,
    close_month, is_fixed, fix_month, count(), arraySort(groupArray(days_open)), toDateTime(1782864000)
FROM
(
    SELECT team, department, severity, status, within_sla, sla_cohort_month,
        toStartOfMonth(detected_at) AS det_month,
        detected_at < toDateTime(1782864000) AS before,
        severity IN ('critical', 'high') AND toInt64(detected_at) + 365 * 86400 < 1782864000 AS debt,
        if(debt, toStartOfMonth(toDateTime(toInt64(detected_at) + 365 * 86400)), det_month) AS debt_month,
        multiIf(status = 'fixed', ifNull(fixed_at, last_event_time),
                status = 'dismissed', ifNull(dismissed_at, last_event_time), NULL) AS close_at,
        if(isNotNull(close_at) AND assumeNotNull(close_at) < toDateTime(1782864000), toStartOfMonth(assumeNotNull(close_at)),
           addMonths(toStartOfMonth(toDateTime(1782864000)), 1)) AS close_month,
        status = 'fixed' AND isNotNull(fixed_at) AS is_fixed,
        if(is_fixed, toStartOfMonth(assumeNotNull(fixed_at)), toDate(0)) AS fix_month,
        (toInt64(ifNull(close_at, toDateTime(1782864000))) - toInt64(detected_at)) / 86400 AS days_open
    FROM findings
)
GROUP BY team, department, severity, status, within_sla, sla_cohort_month, det_month, before, debt, debt_month, close_month, is_fixed, fix_month;

RENAME TABLE finding_groups_next TO finding_groups;

DROP TABLE IF EXISTS dora_changes_next;

CREATE TABLE IF NOT EXISTS dora_changes_next (
    deployment_id String COMMENT 'The change: a production deployment that succeeded (finished_at set), any trigger but rollback.',
    service_id String COMMENT 'Deployed service.',
    team String COMMENT 'Owning team from the service catalog as of started_at; empty when unknown.',
    department String COMMENT 'Owning department from the service catalog as of started_at; empty when unknown.',
    trigger String COMMENT 'feature, hotfix, security_fix or config.',
    started_at DateTime COMMENT 'When the deployment started.',
    finished_at DateTime COMMENT 'When it finished (deployment frequency counts changes by finished_at).',
    lead_time_hours Nullable(Float64) COMMENT 'Lead time for changes: (finished_at - first_commit_at) in hours; null without first_commit_at.',
    gate_blocked UInt8 COMMENT '1 when a blocking security gate failed for the same service and commit (the security lens of every DORA figure).',
    gate_waived UInt8 COMMENT '1 when a blocking gate for the same service and commit was waived.',
    change_failure UInt8 COMMENT '1 when a failure signal marks this change: a production rollback or hotfix deployment of the same service (at its started_at) or a security incident affecting the service (at its detected_at), within the failure window after finished_at and before any later change of the service finished (a signal marks the latest change before it).',
    failure_signal String COMMENT 'rollback, hotfix or incident: the first signal marking the change; empty when none.',
    failure_signal_id String COMMENT 'deployment_id or incident_id of that signal; empty when none.',
    failure_at Nullable(DateTime) COMMENT 'Time of that signal.',
    restored_at Nullable(DateTime) COMMENT 'Service restored: finished_at of the signalling rollback or hotfix when it succeeded, resolved_at of the signalling incident when resolved; null otherwise.',
    restore_hours Nullable(Float64) COMMENT 'Time to restore: (restored_at - finished_at) in hours.',
    security_fix_lead_hours Nullable(Float64) COMMENT 'For security_fix changes: finished_at - the earliest detected_at of the findings it fixes (fixes_finding_ids), in hours.',
    security_fix_finding_lead_hours Array(Float64) COMMENT 'For security_fix changes: finished_at - detected_at of each finding it fixes (each element of fixes_finding_ids that has a row in findings), in hours, in ascending order; empty for other changes. impact_stats security_fix_lead_time_hours is the median of all of them.',
    failure_window_seconds UInt32 COMMENT 'The failure window the row was built with (transform Options.DORAWindow).',
    last_event_source String COMMENT 'Lineage: CloudEvents source of the deployment event that gave the latest state.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.'
) ENGINE = MergeTree
-- New changes and signals land in the latest month: an incremental refresh
-- rebuilds the months holding a changed row (transform/refresh.go).
PARTITION BY toYYYYMM(finished_at)
ORDER BY (service_id, finished_at, deployment_id);

-- dora_changes: one row per change (a production deployment that
-- succeeded, any trigger but rollback) with its DORA figures. A failure
-- signal (a production rollback or hotfix of the same service, or an
-- incident affecting it) marks the latest change of its service that
-- finished before it, when within 86400 seconds; a change's first
-- signal gives the kind and the restore time.
--
-- Incremental: the recomputed changes (transform_keys) and, for their
-- failures, only the signals and changes of their services' window-long
-- buckets of time, listed once by dora_changes.touch.sql under the helper
-- model dora_changes/buckets ("bucket service_id"). The filters sit in each
-- read of deployment_facts (ClickHouse 18.16 does not push a WHERE into the
-- branches of a UNION ALL), behind a PREWHERE on the earliest bucket: the
-- recomputed changes and their signals are recent, most of
-- deployment_facts is older, and only the rows at or after that bucket are
-- looked up in the sets. A full refresh runs the same statement without
-- these filters.
INSERT INTO dora_changes_next (deployment_id, service_id, team, department, trigger, started_at, finished_at,
    lead_time_hours, gate_blocked, gate_waived, change_failure, failure_signal, failure_signal_id, failure_at,
    restored_at, restore_hours, security_fix_lead_hours, security_fix_finding_lead_hours, failure_window_seconds, last_event_source, last_event_id)
SELECT
    deployment_id, service_id, team, department, trigger, started_at, finished_at,
    lead_time_hours, gate_blocked, gate_waived,
    toUInt8(failure_signal != '') AS change_failure,
    failure_signal, failure_signal_id, failure_at,
    if(first_restored_s > 0, toDateTime(first_restored_s), NULL),
    if(first_restored_s > 0, (first_restored_s - toInt64(finished_at)) / 3600, NULL),
    security_fix_lead_hours,
    security_fix_finding_lead_hours,
    toUInt32(86400),
    last_event_source, last_event_id
FROM
(
    SELECT
        deployment_id, service_id, team, department, trigger, started_at, finished AS finished_at, lead_time_hours,
        gate_blocked, gate_waived, last_event_source, last_event_id, security_fix_lead_hours, security_fix_finding_lead_hours
    FROM
    (
        -- (Not aliased finished_at here: 18.16 would resolve the WHERE's
        -- isNotNull(finished_at) to the alias, never null, and a success
        -- without a finish time would become a change of 1970.)
        SELECT deployment_id, service_id, team, department, trigger, started_at,
            assumeNotNull(finished_at) AS finished, lead_time_hours, gate_blocked, gate_waived,
            last_event_source, last_event_id
        FROM deployment_facts
        WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
    ) AS c
    ALL LEFT JOIN
    (
        -- Security-fix lead time: the change's finish minus the earliest
        -- detection of the findings it fixes, and minus each one's (what
        -- impact_stats takes the median of: kept here, it reads this table
        -- instead of joining every security fix with findings again). The
        -- fixes' findings make the hash table of the join, every finding
        -- streams past it (cheaper than a set of the named findings and a
        -- hash table of them).
        SELECT deployment_id,
            toNullable((toInt64(any(finished)) - toInt64(min(detected_at))) / 3600) AS security_fix_lead_hours,
            arraySort(groupArray((toInt64(finished) - toInt64(detected_at)) / 3600)) AS security_fix_finding_lead_hours
        FROM (SELECT finding_id, detected_at FROM findings) AS fd
        ALL INNER JOIN
        (
            SELECT deployment_id, assumeNotNull(finished_at) AS finished, arrayJoin(fixes_finding_ids) AS finding_id
            FROM deployment_facts
            WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success' AND isNotNull(finished_at)
        ) AS fx USING finding_id
        GROUP BY deployment_id
    ) AS sf USING deployment_id
) AS changes
ALL LEFT JOIN
(
    -- Per failed change, its first signal.
    SELECT
        target_id AS deployment_id,
        argMin(kind, tuple(signal_at, signal_id)) AS failure_signal,
        argMin(signal_id, tuple(signal_at, signal_id)) AS failure_signal_id,
        toNullable(min(signal_at)) AS failure_at,
        -- Unix seconds, 0 when not restored: aggregates skip NULLs.
        argMin(restored_s, tuple(signal_at, signal_id)) AS first_restored_s
    FROM
    (
        -- Each signal marks the latest change of its service that
        -- finished before it, within the window. Per service, changes and
        -- signals sorted by time (a change that finished in a signal's
        -- second sorts after it: only changes strictly before it count):
        -- the number of changes up to a signal, k, is the position of the
        -- latest change before it among the service's changes sorted by
        -- (finish, id). One sort per service and a join on (service, k),
        -- not every pair of a signal and a change of its service.
        SELECT signal_id, kind, toDateTime(signal_t) AS signal_at, restored_s, change_id AS target_id
        FROM
        (
            SELECT service_id, tupleElement(tupleElement(x, 1), 1) AS signal_t, tupleElement(tupleElement(x, 1), 3) AS signal_id,
                tupleElement(tupleElement(x, 1), 4) AS kind, tupleElement(tupleElement(x, 1), 5) AS restored_s, tupleElement(x, 2) AS k
            FROM
            (
                SELECT service_id,
                    -- (time, 0 signal / 1 change, id, kind, restored)
                    arraySort(groupArray(tuple(t, is_change, id, kind, restored_s))) AS ev,
                    arrayCumSum(arrayMap(e -> toUInt64(tupleElement(e, 2)), ev)) AS changes_up_to,
                    arrayJoin(arrayFilter(p -> tupleElement(tupleElement(p, 1), 2) = 0 AND tupleElement(p, 2) > 0,
                        arrayMap((e, n) -> tuple(e, n), ev, changes_up_to))) AS x
                FROM
                (
                    SELECT service_id, toInt64(started_at) AS t, toUInt8(0) AS is_change, deployment_id AS id, trigger AS kind,
                        if(status = 'success' AND isNotNull(finished_at), toInt64(assumeNotNull(finished_at)), toInt64(0)) AS restored_s
                    FROM deployment_facts
                    WHERE environment = 'production' AND trigger IN ('rollback', 'hotfix')
                    UNION ALL
                    SELECT service_id, t, is_change, id, kind, restored_s
                    FROM
                    (
                    SELECT service_id, toInt64(detected_at) AS t, toUInt8(0) AS is_change, incident_id AS id, 'incident' AS kind,
                        if(status = 'resolved' AND isNotNull(resolved_at), toInt64(assumeNotNull(resolved_at)), toInt64(0)) AS restored_s
                    FROM
                    (
                        SELECT incident_id,
                            tupleElement(s, 1) AS detected_at, tupleElement(s, 2) AS resolved_at, tupleElement(s, 3) AS status,
                            arrayJoin(tupleElement(s, 4)) AS service_id
                        FROM
                        (
                            SELECT incident_id,
                                argMax(tuple(detected_at, resolved_at, status, affected_service_ids), tuple(event_time, event_id)) AS s
                            FROM incident_events
                            GROUP BY incident_id
                        )
                    )
                    )
                    UNION ALL
                    SELECT service_id, toInt64(assumeNotNull(finished_at)) AS t, toUInt8(1) AS is_change, deployment_id AS id, '' AS kind,
                        toInt64(0) AS restored_s
                    FROM deployment_facts
                    WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
                )
                GROUP BY service_id
            )
        ) AS sig
        ALL INNER JOIN
        (
            -- The changes of each service numbered in (finish, id) order.
            SELECT service_id, toUInt64(n) AS k, tupleElement(c, 1) AS change_t, tupleElement(c, 2) AS change_id
            FROM
            (
                SELECT service_id, arraySort(groupArray(tuple(toInt64(assumeNotNull(finished_at)), deployment_id))) AS cs
                FROM deployment_facts
                WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
                GROUP BY service_id
            )
            ARRAY JOIN cs AS c, arrayEnumerate(cs) AS n
        ) AS ch USING service_id, k
        WHERE signal_t - change_t <= 86400
    )
    GROUP BY target_id
) AS failures USING deployment_id;

RENAME TABLE dora_changes_next TO dora_changes;

DROP TABLE IF EXISTS department_scorecard_next;

CREATE TABLE IF NOT EXISTS department_scorecard_next (
    department String COMMENT 'Department (from the service catalog as of the event for findings and deployments; as sent for exceptions, vendor assessments and incident contributions). Empty: the catalog had no entry.',
    month Date COMMENT 'First day of the calendar month (UTC).',
    findings_opened UInt64 COMMENT 'Findings detected in the month.',
    findings_fixed UInt64 COMMENT 'Findings fixed in the month (fix capacity = findings_fixed / findings_opened).',
    open_critical UInt64 COMMENT 'Critical findings open at the end of the month (or at the as-of time for the current month).',
    open_high UInt64 COMMENT 'High findings open at month end.',
    open_medium UInt64 COMMENT 'Medium findings open at month end.',
    open_low UInt64 COMMENT 'Low findings open at month end.',
    open_info UInt64 COMMENT 'Info findings open at month end.',
    security_debt UInt64 COMMENT 'Open high and critical findings detected more than 365 days before month end.',
    sla_within UInt64 COMMENT 'Findings due in the month (due-date cohort, findings.sla_cohort_month) that were fixed by their due date.',
    sla_breached UInt64 COMMENT 'Findings due in the month that missed it: fixed late, still open past it, or dismissed after it.',
    sla_compliance Nullable(Float64) COMMENT 'sla_within / (sla_within + sla_breached); null when both are 0.',
    deployments UInt64 COMMENT 'Deployments started in the month.',
    gate_blocked_deployments UInt64 COMMENT 'Of those, deployments with gate_blocked = 1.',
    gate_block_rate Nullable(Float64) COMMENT 'gate_blocked_deployments / deployments; null without deployments.',
    policy_exceptions_opened UInt64 COMMENT 'Policy exceptions opened in the month.',
    policy_exceptions_open UInt64 COMMENT 'Policy exceptions open at month end.',
    incidents UInt64 COMMENT 'Incidents detected in the month that name this department among contributing_departments (department (unassigned): incidents whose review named none).',
    incident_cost_usd Float64 COMMENT 'cost_usd of those incidents split evenly over their contributing departments; incidents naming none are charged to the department (unassigned); costs not known yet count 0 here (see incidents_cost_unknown).',
    vendor_assessments UInt64 COMMENT 'Vendor assessments the department requested in the month.',
    vendor_assessment_cost_usd Float64 COMMENT 'assessment_cost_usd of those assessments.',
    vendor_assessments_completed UInt64 COMMENT 'Vendor assessments of the department completed in the month.',
    vendor_cycle_seconds UInt64 COMMENT 'Sum of completed_at - requested_at over those, seconds (mean cycle = vendor_cycle_seconds / vendor_assessments_completed).',
    policy_exceptions_resolved UInt64 COMMENT 'Policy exceptions resolved in the month.',
    policy_exception_resolved_seconds UInt64 COMMENT 'Sum of resolved_at - opened_at over those, seconds (how long exceptions stay open).',
    vendor_monitoring_cost_usd Float64 COMMENT 'annual_monitoring_cost_usd of those assessments, booked in full in the month of the request (the commitment the request makes).',
    cost_of_risk_usd Float64 COMMENT 'incident_cost_usd + vendor_assessment_cost_usd + vendor_monitoring_cost_usd (kept for compatibility: the dashboards and the brief show incident cost and control spend apart). Remediation effort is not in event contract v1 and is not included.',
    control_spend_usd Float64 COMMENT 'Control spend: vendor_assessment_cost_usd + vendor_monitoring_cost_usd, what the department''s tool requests cost to assess and monitor (not a loss).',
    incidents_cost_unknown UInt64 COMMENT 'Of incidents, those whose cost_usd is not known yet: incident_cost_usd is a lower bound while this is above 0.'
) ENGINE = MergeTree ORDER BY (department, month);

-- department_scorecard: per department and month, from the fact tables and
-- the latest states of incidents, policy exceptions and vendor assessments.
-- Every part emits (department, month, metric, value); the outer query
-- pivots, so adding a metric is one more UNION ALL branch.
INSERT INTO department_scorecard_next (department, month, findings_opened, findings_fixed, open_critical, open_high, open_medium,
    open_low, open_info, security_debt, sla_within, sla_breached, sla_compliance, deployments,
    gate_blocked_deployments, gate_block_rate, policy_exceptions_opened, policy_exceptions_open, incidents,
    incident_cost_usd, vendor_assessments, vendor_assessment_cost_usd, vendor_assessments_completed, vendor_cycle_seconds,
    policy_exceptions_resolved, policy_exception_resolved_seconds, vendor_monitoring_cost_usd, cost_of_risk_usd,
    control_spend_usd, incidents_cost_unknown)
SELECT
    department, month,
    toUInt64(sumIf(v, metric = 'findings_opened')),
    toUInt64(sumIf(v, metric = 'findings_fixed')),
    toUInt64(sumIf(v, metric = 'open_critical')),
    toUInt64(sumIf(v, metric = 'open_high')),
    toUInt64(sumIf(v, metric = 'open_medium')),
    toUInt64(sumIf(v, metric = 'open_low')),
    toUInt64(sumIf(v, metric = 'open_info')),
    toUInt64(sumIf(v, metric = 'security_debt')),
    toUInt64(sumIf(v, metric = 'sla_within')) AS within,
    toUInt64(sumIf(v, metric = 'sla_breached')) AS breached,
    if(within + breached > 0, within / (within + breached), NULL),
    toUInt64(sumIf(v, metric = 'deployments')) AS deps,
    toUInt64(sumIf(v, metric = 'gate_blocked')) AS blocked,
    if(deps > 0, blocked / deps, NULL),
    toUInt64(sumIf(v, metric = 'policy_exceptions_opened')),
    toUInt64(sumIf(v, metric = 'policy_exceptions_open')),
    toUInt64(sumIf(v, metric = 'incidents')),
    sumIf(v, metric = 'incident_cost_usd') AS inc_cost,
    toUInt64(sumIf(v, metric = 'vendor_assessments')),
    sumIf(v, metric = 'vendor_assessment_cost_usd') AS va_cost,
    toUInt64(sumIf(v, metric = 'vendor_assessments_completed')),
    toUInt64(sumIf(v, metric = 'vendor_cycle_seconds')),
    toUInt64(sumIf(v, metric = 'policy_exceptions_resolved')),
    toUInt64(sumIf(v, metric = 'policy_exception_resolved_seconds')),
    sumIf(v, metric = 'vendor_monitoring_cost_usd') AS vm_cost,
    inc_cost + va_cost + vm_cost,
    va_cost + vm_cost,
    toUInt64(sumIf(v, metric = 'incidents_cost_unknown'))
FROM
(
    -- The branches over the big fact tables count per department and month
    -- before the pivot, so the pivot's sumIf runs over a few thousand rows.
    --
    -- Every figure of findings comes from the groups of findings alike
    -- (finding_groups, some 15,000 at 10M events), each group
    -- emitting its count n to the month of each figure it counts in:
    -- findings_opened (detection month), findings_fixed (fix month),
    -- sla_within / sla_breached by due-date cohort (findings.sla_cohort_month,
    -- the one definition every SLA compliance figure uses), and the
    -- month-end snapshots of open findings (open_<severity>, security_debt).
    -- A finding is open at the end of month m (or at 1782864000 in the as-of
    -- month) when detected_at < end(m) and it was not closed by then. That is
    -- every month from its detection month up to the month before it closed
    -- (or up to the as-of month while open at 1782864000), and security debt from
    -- the month detected_at + 365 days falls in. Each finding emits +n where
    -- such a stretch starts and -n where it ends; the running sum over the
    -- months of each department and metric gives the month-end counts, without
    -- a row per finding and month. The other figures are the months' sums.
    SELECT department, month, metric, toFloat64(value) AS v
    FROM
    (
        -- The lambda gets months and deltas as arguments: 18.16 prunes the
        -- subquery columns that a lambda captures without naming them elsewhere.
        -- Only a running metric spans the months up to 1782864000 (its first month
        -- is before it: detected_at < 1782864000); the others keep their months.
        SELECT department, metric,
               startsWith(metric, 'open_') OR metric = 'security_debt' AS running,
               arrayMap(i -> addMonths(first, i),
                   range(if(running, toUInt32(dateDiff('month', first, toStartOfMonth(toDateTime(1782864000))) + 1), toUInt32(0)))) AS all_months,
               arrayCumSum(arrayMap((m, ms, ds) -> if(indexOf(ms, m) = 0, toInt64(0), arrayElement(ds, indexOf(ms, m))),
                   all_months, arrayResize([months], length(all_months), months), arrayResize([deltas], length(all_months), deltas))) AS counts,
               if(running, all_months, months) AS out_months,
               if(running, counts, deltas) AS out_values
        FROM
        (
            SELECT department, metric, groupArray(month) AS months, groupArray(delta) AS deltas, min(month) AS first
            FROM
            (
                SELECT department, metric, month, sum(delta) AS delta
                FROM
                (
                    SELECT department, tupleElement(d, 1) AS metric, tupleElement(d, 2) AS month, tupleElement(d, 3) AS delta
                    FROM
                    (
                        SELECT department, det_month, close_month, debt_month,
                            arrayJoin(arrayFilter(x -> tupleElement(x, 1) != '', [
                                tuple('findings_opened', det_month, n),
                                tuple(if(fixed, 'findings_fixed', ''), fix_month, n),
                                tuple(if(in_cohort, if(within, 'sla_within', 'sla_breached'), ''), cohort_month, n),
                                tuple(if(before AND close_month > det_month, concat('open_', severity), ''), det_month, n),
                                tuple(if(before AND close_month > det_month AND close_month <= asof_month, concat('open_', severity), ''), close_month, -n),
                                tuple(if(before AND debt AND close_month > debt_month, 'security_debt', ''), debt_month, n),
                                tuple(if(before AND debt AND close_month > debt_month AND close_month <= asof_month, 'security_debt', ''), close_month, -n)])) AS d
                        FROM
                        (
                            -- The groups of findings alike (finding_groups.sql: the
                            -- months and as-of tests of each finding).
                            SELECT department, severity, detected_before_as_of AS before, detected_month AS det_month,
                                toStartOfMonth(toDateTime(1782864000)) AS asof_month, close_month, debt_age AS debt, debt_month,
                                fixed, fix_month, isNotNull(sla_cohort_month) AS in_cohort,
                                ifNull(sla_cohort_month, toDate(0)) AS cohort_month, ifNull(within_sla, 0) = 1 AS within,
                                toInt64(sum(findings)) AS n
                            FROM finding_groups
                            GROUP BY department, severity, before, det_month, asof_month, close_month, debt, debt_month,
                                fixed, fix_month, in_cohort, cohort_month, within
                        )
                    )
                )
                GROUP BY department, metric, month
            )
            GROUP BY department, metric
        )
    )
    ARRAY JOIN out_months AS month, out_values AS value
    WHERE value > 0
    UNION ALL
    SELECT department, month, metric, v
    FROM
    (
        SELECT department, toStartOfMonth(started_at) AS month, count() AS deployments, sum(gate_blocked) AS blocked
        FROM deployment_facts
        GROUP BY department, month
    )
    ARRAY JOIN ['deployments', 'gate_blocked'] AS metric, [toFloat64(deployments), toFloat64(blocked)] AS v
    UNION ALL
    SELECT tupleElement(p, 1) AS department, toStartOfMonth(tupleElement(p, 2)) AS month, 'policy_exceptions_opened' AS metric, toFloat64(1) AS v
    FROM
    (
        SELECT exception_id, argMax(tuple(department, opened_at), tuple(event_time, event_id)) AS p
        FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
    )
    UNION ALL
    SELECT department, month, 'policy_exceptions_open' AS metric, toFloat64(1) AS v
    FROM
    (
        SELECT department, opened_at, resolved_at, month,
               least(toDateTime(addMonths(month, 1)), toDateTime(1782864000)) AS month_end
        FROM
        (
            SELECT department, opened_at, resolved_at,
                   arrayJoin(arrayMap(i -> addMonths(toStartOfMonth(opened_at), i),
                       range(toUInt32(greatest(0, dateDiff('month', toStartOfMonth(opened_at),
                           toStartOfMonth(least(ifNull(resolved_at, toDateTime(1782864000)), toDateTime(1782864000))))) + 1)))) AS month
            FROM
            (
                SELECT tupleElement(p, 1) AS department, tupleElement(p, 2) AS opened_at, tupleElement(p, 3) AS resolved_at
                FROM
                (
                    SELECT exception_id, argMax(tuple(department, opened_at, resolved_at), tuple(event_time, event_id)) AS p
                    FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
                )
            )
            WHERE opened_at < toDateTime(1782864000)
        )
    )
    WHERE opened_at < month_end AND (isNull(resolved_at) OR assumeNotNull(resolved_at) >= month_end)
    UNION ALL
    -- Incidents: cost split evenly over the contributing departments; an
    -- incident naming none is charged to '(unassigned)', not dropped; one
    -- whose cost is not known yet is counted in incidents_cost_unknown.
    SELECT department, month, metric, v
    FROM
    (
        SELECT department, toStartOfMonth(inc_detected_at) AS month, cost / length(depts) AS share, unknown
        FROM
        (
            SELECT if(empty(tupleElement(i, 1)), ['(unassigned)'], tupleElement(i, 1)) AS depts, tupleElement(i, 2) AS inc_detected_at,
                   toFloat64(ifNull(tupleElement(i, 3), 0)) AS cost, toFloat64(isNull(tupleElement(i, 3))) AS unknown
            FROM
            (
                SELECT incident_id, argMax(tuple(contributing_departments, detected_at, cost_usd), tuple(event_time, event_id)) AS i
                FROM (SELECT * FROM incident_events) GROUP BY incident_id
            )
        )
        ARRAY JOIN depts AS department
    )
    ARRAY JOIN ['incidents', 'incident_cost_usd', 'incidents_cost_unknown'] AS metric, [toFloat64(1), share, unknown] AS v
    UNION ALL
    SELECT tupleElement(a, 1) AS department, toStartOfMonth(tupleElement(a, 2)) AS month, metric, v
    FROM
    (
        SELECT tupleElement(a, 1) AS dep, a,
               toFloat64(ifNull(tupleElement(a, 3), 0)) AS a_cost,
               toFloat64(ifNull(tupleElement(a, 4), 0)) AS m_cost
        FROM
        (
            SELECT assessment_id,
                   argMax(tuple(department, requested_at, assessment_cost_usd, annual_monitoring_cost_usd), tuple(event_time, event_id)) AS a
            FROM (SELECT * FROM vendor_assessment_events) GROUP BY assessment_id
        )
    )
    ARRAY JOIN ['vendor_assessments', 'vendor_assessment_cost_usd', 'vendor_monitoring_cost_usd'] AS metric, [toFloat64(1), a_cost, m_cost] AS v
    UNION ALL
    SELECT tupleElement(a, 1) AS department, toStartOfMonth(assumeNotNull(tupleElement(a, 3))) AS month, metric, v
    FROM
    (
        SELECT a, toFloat64(toInt64(assumeNotNull(tupleElement(a, 3))) - toInt64(tupleElement(a, 2))) AS cycle
        FROM
        (
            SELECT assessment_id, argMax(tuple(department, requested_at, completed_at), tuple(event_time, event_id)) AS a
            FROM (SELECT * FROM vendor_assessment_events) GROUP BY assessment_id
        )
        WHERE isNotNull(tupleElement(a, 3))
    )
    ARRAY JOIN ['vendor_assessments_completed', 'vendor_cycle_seconds'] AS metric, [toFloat64(1), cycle] AS v
    UNION ALL
    SELECT tupleElement(p, 1) AS department, toStartOfMonth(assumeNotNull(tupleElement(p, 3))) AS month, metric, v
    FROM
    (
        SELECT p, toFloat64(toInt64(assumeNotNull(tupleElement(p, 3))) - toInt64(tupleElement(p, 2))) AS open_seconds
        FROM
        (
            SELECT exception_id, argMax(tuple(department, opened_at, resolved_at), tuple(event_time, event_id)) AS p
            FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
        )
        WHERE isNotNull(tupleElement(p, 3))
    )
    ARRAY JOIN ['policy_exceptions_resolved', 'policy_exception_resolved_seconds'] AS metric, [toFloat64(1), open_seconds] AS v
)
GROUP BY department, month;

RENAME TABLE department_scorecard_next TO department_scorecard;
