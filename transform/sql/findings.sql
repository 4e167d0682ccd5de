-- findings: latest state per finding by event time (ties: lifecycle order,
-- then event id), team and department from the catalog as of detection,
-- SLA due date and compliance as of @asof. Duplicate deliveries of an event
-- are identical rows, so argMax needs no FINAL.
--
-- The SLA rule lives here and only here: the due date is the one the source
-- sent (sla_policy_version empty; rows of older releases whose decoder
-- derived a date carry its policy version and are re-derived), else
-- detected_at + the refresh's policy. within_sla: fixed by the due date 1,
-- fixed after it 0; open past it 0; dismissed after it was already overdue
-- 0, dismissed in time null; open and not yet due null. sla_cohort_month is
-- the month the due date fell in, for decided findings due by @asof: every
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
{{define "state"}}tuple(scanner, category, title, cve_id, cwe_id, cvss, epss, kev, repo, dismissed_at,
                             dismissed_reason, internet_facing, sla_due_at, event_time, event_type, event_source,
                             event_id, kafka_topic, kafka_partition, kafka_offset,
                             severity, service_id, status, detected_at, fixed_at, sla_policy_version){{end}}
{{- define "rank"}}multiIf(event_type = 'security.finding.opened', 1, event_type = 'security.finding.updated', 2,
                                                 event_type = 'security.finding.reopened', 3, 4){{end}}
{{- define "order"}}tuple(event_time, {{template "rank"}}, event_id,
                             -- Duplicate deliveries of one event tie on everything above; the
                             -- copy the table's ReplacingMergeTree keeps (latest ingested_at)
                             -- wins, so lineage is the same before and after merges.
                             ingested_at, kafka_partition, kafka_offset){{end}}
{{- define "okey"}}concat(hex(toUInt64(event_time) + 4294967296), toString({{template "rank"}}),
                             replaceAll(event_id, '\0', '\0\xFF'), '\0', hex(toUInt64(ingested_at) + 4294967296),
                             hex(toUInt64(toInt64(kafka_partition) + 2147483648) + 4294967296),
                             hex(bitXor(toUInt64(kafka_offset), 9223372036854775808))){{end}}
{{- define "counters"}}max(event_type = 'security.finding.reopened') AS reopened,
                toUInt32(uniqExact(cityHash64(event_source, event_id))) AS event_count,
                min(event_time) AS first_event_time{{end}}
{{- define "insert"}}INSERT INTO {{.Table}} (finding_id, scanner, category, title, cve_id, cwe_id, severity, cvss, epss, kev,
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
        st = 'open' AND assumeNotNull(due_at) < toDateTime(@asof), toUInt8(0),
        st = 'dismissed' AND assumeNotNull(due_at) < ifNull(tupleElement(s, 10), tupleElement(s, 14)), toUInt8(0),
        NULL) AS within_sla,
    if(isNotNull(within_sla) AND assumeNotNull(due_at) <= toDateTime(@asof), toStartOfMonth(assumeNotNull(due_at)), NULL) AS sla_cohort_month,
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
            multiIf(severity = 'critical', @sla_critical, severity = 'high', @sla_high, severity = 'medium', @sla_medium,
                    severity = 'low', @sla_low, severity = 'info', @sla_info, 0) AS policy_seconds,
            -- The date the source sent wins; else the policy's, when it has one
            -- for the severity and DateTime can hold it.
            if(isNotNull(tupleElement(s, 13)) AND tupleElement(s, 26) = '', tupleElement(s, 13),
                if(policy_seconds > 0 AND toInt64(detected_at) + policy_seconds <= 4294967295,
                   toDateTime(toInt64(detected_at) + policy_seconds), NULL)) AS due,
            reopened, event_count, first_event_time
{{end}}
{{- define "catalog"}}    ) AS l1
    ALL LEFT JOIN
    (
        SELECT service_id, arraySort(groupArray(tuple(effective_at, event_time, event_id, team, department))) AS versions
        FROM (SELECT * FROM service_events)
        GROUP BY service_id
    ) AS r1 USING service_id
){{end}}
{{- if .Incremental}}
{{template "insert" .}}        FROM
        (
            SELECT finding_id, s, reopened, event_count, first_event_time
            FROM
            (
                -- Every event of the touched findings, narrow columns only.
                SELECT
                    finding_id,
                    max({{template "order"}}) AS o,
                    {{template "counters"}}
                FROM (SELECT * FROM finding_events
                WHERE finding_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'findings'))
                GROUP BY finding_id
            ) AS n
            ALL INNER JOIN
            (
                -- The state as of the latest of the events written since the
                -- watermark: the finding's state when that is its latest event.
                -- Their argMax, without the aggregate state of a wide tuple per row.
                SELECT finding_id, {{template "state"}} AS s, {{template "order"}} AS new_o
                FROM (SELECT * FROM finding_events
                PREWHERE inserted_at >= toDateTime(@since)
                WHERE finding_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'findings'))
                ORDER BY finding_id, event_time DESC, {{template "rank"}} DESC, event_id DESC, ingested_at DESC, kafka_partition DESC, kafka_offset DESC
                LIMIT 1 BY finding_id
            ) AS w USING finding_id
            WHERE new_o = o
        )
{{template "catalog"}};
{{end -}}
{{- if .Incremental}}
{{template "insert" .}}        FROM
        (
            -- The touched findings the statement above did not write (a few
            -- dozen at 10M events): one argMax over the whole state, elements
            -- 1-20 as named, 21-26 severity, service_id, status, detected_at,
            -- fixed_at, sla_policy_version. For so few findings the tuples cost
            -- little, and the full statement's order key reads the events twice.
            SELECT
                finding_id,
                argMax({{template "state"}},
                       {{template "order"}}) AS s,
                {{template "counters"}}
            FROM (SELECT * FROM finding_events
            -- Only their granules are read (a GLOBAL IN in WHERE is not moved
            -- to PREWHERE by 18.16).
            PREWHERE finding_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'findings'
                AND key NOT IN (SELECT finding_id FROM {{.Table}})))
            GROUP BY finding_id
        )
{{template "catalog"}}
{{- else}}
{{template "insert" .}}        FROM
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
                SELECT finding_id, {{template "state"}} AS s, {{template "okey"}} AS k
                FROM (SELECT * FROM finding_events)
            ) AS l2
            ALL INNER JOIN
            (
                SELECT finding_id, max({{template "okey"}}) AS k,
                {{template "counters"}}
                FROM (SELECT finding_id, event_source, event_id, event_type, event_time, ingested_at, kafka_partition, kafka_offset
                FROM finding_events)
                GROUP BY finding_id
            ) AS r2 USING finding_id, k
            LIMIT 1 BY finding_id
        )
{{template "catalog"}}
{{- end}}
