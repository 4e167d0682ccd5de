-- dora_changes: one row per change (a production deployment that
-- succeeded, any trigger but rollback) with its DORA figures. A failure
-- signal (a production rollback or hotfix of the same service, or an
-- incident affecting it) marks the latest change of its service that
-- finished before it, when within @dora_window seconds; a change's first
-- signal gives the kind and the restore time.
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
    SELECT
        deployment_id, service_id, team, department, trigger, started_at, finished_at, lead_time_hours,
        gate_blocked, gate_waived, last_event_source, last_event_id, security_fix_lead_hours
    FROM
    (
        SELECT deployment_id, service_id, team, department, trigger, started_at,
            assumeNotNull(finished_at) AS finished_at, lead_time_hours, gate_blocked, gate_waived,
            last_event_source, last_event_id
        FROM deployment_facts
        WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
    ) AS c
    ALL LEFT JOIN
    (
        -- Security-fix lead time: the change's finish minus the earliest
        -- detection of the findings it fixes.
        SELECT deployment_id,
            toNullable((toInt64(any(finished)) - toInt64(min(detected_at))) / 3600) AS security_fix_lead_hours
        FROM
        (
            SELECT deployment_id, assumeNotNull(finished_at) AS finished, arrayJoin(fixes_finding_ids) AS finding_id
            FROM deployment_facts
            WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success' AND isNotNull(finished_at)
        ) AS fx
        ALL INNER JOIN
        (
            SELECT finding_id, detected_at FROM findings
        ) AS fd USING finding_id
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
        -- finished before it, within the window.
        SELECT signal_id, kind, signal_at, restored_s,
            tupleElement(argMax(tuple(change_id), tuple(change_finished, change_id)), 1) AS target_id
        FROM
        (
            SELECT service_id, deployment_id AS signal_id, trigger AS kind, started_at AS signal_at,
                if(status = 'success' AND isNotNull(finished_at), toInt64(assumeNotNull(finished_at)), toInt64(0)) AS restored_s
            FROM deployment_facts
            WHERE environment = 'production' AND trigger IN ('rollback', 'hotfix')
            UNION ALL
            SELECT service_id, incident_id AS signal_id, 'incident' AS kind, detected_at AS signal_at,
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
        ) AS sig
        ALL INNER JOIN
        (
            SELECT service_id, deployment_id AS change_id, assumeNotNull(finished_at) AS change_finished
            FROM deployment_facts
            WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
        ) AS ch USING service_id
        WHERE change_finished < signal_at AND toInt64(signal_at) - toInt64(change_finished) <= @dora_window
        GROUP BY service_id, signal_id, kind, signal_at, restored_s
    )
    GROUP BY target_id
) AS failures USING deployment_id
