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
-- model dora_changes/buckets ("bucket service_id"). The filters sit in the
-- scans themselves (ClickHouse 18.16 does not push a WHERE into the
-- branches of a UNION ALL), and a PREWHERE on time keeps the set lookups
-- to the rows at or after the earliest bucket (new changes and signals are
-- recent: most of deployment_facts is older).
INSERT INTO {{.Table}} (deployment_id, service_id, team, department, trigger, started_at, finished_at,
    lead_time_hours, gate_blocked, gate_waived, change_failure, failure_signal, failure_signal_id, failure_at,
    restored_at, restore_hours, security_fix_lead_hours, failure_window_seconds, last_event_source, last_event_id)
SELECT
    deployment_id, service_id, team, department, trigger, started_at, finished_at,
    lead_time_hours, gate_blocked, gate_waived,
    toUInt8(failure_signal != '') AS change_failure,
    failure_signal, failure_signal_id, failure_at,
    if(first_restored_s > 0, toDateTime(first_restored_s), NULL),
    if(first_restored_s > 0, (first_restored_s - toInt64(finished_at)) / 3600, NULL),
    security_fix_lead_hours,
    toUInt32(@dora_window),
    last_event_source, last_event_id
FROM
(
    -- The changes, each with the findings it fixes: one row per finding a
    -- security fix names, one row otherwise (fix = 0), joined to the
    -- findings' detection times (found = 1 when the finding exists; the
    -- changes make the hash table, the findings stream past it).
    -- Security-fix lead time: the change's finish minus the earliest
    -- detection of the findings it fixes; null when it fixes none that
    -- exists.
    SELECT deployment_id, service_id, team, department, trigger, started_at, finished_at, lead_time_hours,
        gate_blocked, gate_waived, last_event_source, last_event_id,
        if(countIf(found AND fix) > 0,
            toNullable((toInt64(finished_at) - toInt64(minIf(detected_at, found AND fix))) / 3600), NULL) AS security_fix_lead_hours
    FROM (SELECT finding_id, detected_at, toUInt8(1) AS found FROM findings) AS fd
    ALL RIGHT JOIN
    (
        SELECT deployment_id, service_id, team, department, trigger, started_at,
            assumeNotNull(finished_at) AS finished_at, lead_time_hours, gate_blocked, gate_waived,
            last_event_source, last_event_id,
            toUInt8(trigger = 'security_fix' AND notEmpty(fixes_finding_ids)) AS fix,
            arrayJoin(if(fix = 1, fixes_finding_ids, [''])) AS finding_id
        FROM deployment_facts
        {{- if .Incremental}}
        PREWHERE isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >=
            (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets')
        {{- end}}
        WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
        {{- if .Incremental}}
            AND deployment_id GLOBAL IN (SELECT key FROM transform_keys WHERE model = 'dora_changes')
        {{- end}}
    ) AS c USING finding_id
    GROUP BY deployment_id, service_id, team, department, trigger, started_at, finished_at, lead_time_hours,
        gate_blocked, gate_waived, last_event_source, last_event_id
) AS changes
ALL LEFT JOIN
(
    -- Per failed change, its first signal. Each signal marks the latest
    -- change of its service that finished before it, within the window.
    -- Per service, changes and signals sorted by time (a change that
    -- finished in a signal's second sorts after it: only changes strictly
    -- before it count): the number of changes up to an event, k, numbers
    -- the change and the signals after it up to the next change, so one
    -- group per (service, k) holds a change (the k-th) and the signals it
    -- is the latest change before. One sort per service, not every pair of
    -- a signal and a change of its service, and no second read of the
    -- changes. The signals after a change come after its finish, so its
    -- first signal is within the window when any is.
    SELECT change_id AS deployment_id, failure_signal, failure_signal_id, toNullable(toDateTime(signal_t)) AS failure_at,
        first_restored_s
    FROM
    (
        SELECT
            anyIf(id, is_change = 1) AS change_id,
            anyIf(t, is_change = 1) AS change_t,
            countIf(is_change = 0) AS signals,
            minIf(t, is_change = 0) AS signal_t,
            argMinIf(kind, tuple(t, id), is_change = 0) AS failure_signal,
            argMinIf(id, tuple(t, id), is_change = 0) AS failure_signal_id,
            -- Unix seconds, 0 when not restored.
            argMinIf(restored_s, tuple(t, id), is_change = 0) AS first_restored_s
        FROM
        (
            SELECT service_id,
                tupleElement(tupleElement(x, 1), 1) AS t, tupleElement(tupleElement(x, 1), 2) AS is_change,
                tupleElement(tupleElement(x, 1), 3) AS id, tupleElement(tupleElement(x, 1), 4) AS kind,
                tupleElement(tupleElement(x, 1), 5) AS restored_s, tupleElement(x, 2) AS k
            FROM
            (
                SELECT service_id,
                    -- (time, 0 signal / 1 change, id, kind, restored)
                    arraySort(groupArray(tuple(t, is_change, id, kind, restored_s))) AS ev,
                    arrayCumSum(arrayMap(e -> toUInt64(tupleElement(e, 2)), ev)) AS changes_up_to,
                    arrayJoin(arrayMap((e, n) -> tuple(e, n), ev, changes_up_to)) AS x
                FROM
                (
                    -- Rollbacks and hotfixes (at their start) and changes (at
                    -- their finish) from one read of deployment_facts: a
                    -- hotfix that succeeded is both.
                    SELECT service_id, tupleElement(e, 1) AS t, tupleElement(e, 2) AS is_change, deployment_id AS id,
                        tupleElement(e, 3) AS kind, tupleElement(e, 4) AS restored_s
                    FROM
                    (
                        SELECT service_id, deployment_id,
                            trigger IN ('rollback', 'hotfix')
                            {{- if .Incremental}}
                                -- Incremental: the signals that can mark a
                                -- recomputed change (within the window after
                                -- its finish: its bucket b or the next).
                                AND (service_id, intDiv(toInt64(started_at), @dora_window)) GLOBAL IN
                                    (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b, b + 1])
                                     FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                            {{- end}} AS is_signal,
                            status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
                            {{- if .Incremental}}
                                -- Incremental: the changes that can be the
                                -- latest before those signals (b - 1 to b + 1).
                                AND (service_id, intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)) GLOBAL IN
                                    (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b - 1, b, b + 1])
                                     FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                            {{- end}} AS is_change,
                            arrayJoin(arrayFilter(e -> tupleElement(e, 5) = 1, [
                                tuple(toInt64(started_at), toUInt8(0), trigger,
                                    if(status = 'success' AND isNotNull(finished_at), toInt64(assumeNotNull(finished_at)), toInt64(0)),
                                    is_signal),
                                tuple(toInt64(assumeNotNull(finished_at)), toUInt8(1), '', toInt64(0), is_change)])) AS e
                        FROM deployment_facts
                        {{- if .Incremental}}
                        PREWHERE intDiv(toInt64(started_at), @dora_window) >= (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets')
                            OR (isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >=
                                (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/buckets') - 1)
                        {{- end}}
                        WHERE environment = 'production' AND (is_signal OR is_change)
                    )
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
                    -- thousand incident versions: no time bound needed).
                    WHERE (service_id, intDiv(t, @dora_window)) GLOBAL IN
                        (SELECT substring(key, position(key, ' ') + 1), arrayJoin([b, b + 1])
                         FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/buckets'))
                    {{- end}}
                )
                GROUP BY service_id
            )
        )
        WHERE k > 0
        GROUP BY service_id, k
    )
    WHERE signals > 0 AND signal_t - change_t <= @dora_window
) AS failures USING deployment_id
