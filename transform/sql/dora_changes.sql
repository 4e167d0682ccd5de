-- dora_changes: one row per change (a production deployment that
-- succeeded, any trigger but rollback) with its DORA figures. A failure
-- signal (a production rollback or hotfix of the same service, or an
-- incident affecting it) marks the latest change of its service that
-- finished before it, when within @dora_window seconds; a change's first
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
INSERT INTO {{.Table}} (deployment_id, service_id, team, department, trigger, started_at, finished_at,
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
    toUInt32(@dora_window),
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
        {{- if .Incremental}}
        PREWHERE isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >= (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets')
        {{- end}}
        WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
        {{- if .Incremental}}
            AND deployment_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'dora_changes')
        {{- end}}
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
            {{- if .Incremental}}
            PREWHERE isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >= (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets')
            {{- end}}
            WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success' AND isNotNull(finished_at)
            {{- if .Incremental}}
                AND deployment_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'dora_changes')
            {{- end}}
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
                    {{- if .Incremental}}
                    -- Incremental: the signals that can mark a recomputed
                    -- change (within the window after its finish: its
                    -- bucket b or the next).
                    PREWHERE intDiv(toInt64(started_at), @dora_window) >= (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets')
                    {{- end}}
                    WHERE environment = 'production' AND trigger IN ('rollback', 'hotfix')
                    {{- if .Incremental}}
                        AND (service_id, intDiv(toInt64(started_at), @dora_window)) {{.In}}
                            (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b, b + 1])
                                 FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                    {{- end}}
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
                    {{- if .Incremental}}
                    -- Incremental: as the rollbacks and hotfixes (a few
                    -- thousand incident versions: no time bound).
                    WHERE (service_id, intDiv(t, @dora_window)) {{.In}}
                        (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b, b + 1])
                             FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                    {{- end}}
                    UNION ALL
                    SELECT service_id, toInt64(assumeNotNull(finished_at)) AS t, toUInt8(1) AS is_change, deployment_id AS id, '' AS kind,
                        toInt64(0) AS restored_s
                    FROM deployment_facts
                    {{- if .Incremental}}
                    -- Incremental: the changes that can be the latest
                    -- before those signals (buckets b - 1 to b + 1).
                    PREWHERE isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >= (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets') - 1
                    {{- end}}
                    WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
                    {{- if .Incremental}}
                        AND (service_id, intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)) {{.In}}
                            (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b - 1, b, b + 1])
                                 FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                    {{- end}}
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
                {{- if .Incremental}}
                PREWHERE isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >= (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets') - 1
                {{- end}}
                WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
                {{- if .Incremental}}
                    AND (service_id, intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)) {{.In}}
                        (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b - 1, b, b + 1])
                             FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                {{- end}}
                GROUP BY service_id
            )
            ARRAY JOIN cs AS c, arrayEnumerate(cs) AS n
        ) AS ch USING service_id, k
        WHERE signal_t - change_t <= @dora_window
    )
    GROUP BY target_id
) AS failures USING deployment_id
