-- Changes to recompute. Runs after deployment_facts and findings were
-- refreshed incrementally in this run (a full rebuild of either rebuilds
-- this model in full), so their transform_keys are this run's.
--
-- The recomputed deployments: new, changed, or no longer a change (their
-- old row goes).
INSERT INTO transform_keys (model, key)
SELECT 'dora_changes', key FROM transform_keys WHERE model = 'deployment_facts';
-- Changes whose first signal changed: a recomputed rollback or hotfix
-- deployment, or an incident with new events (any version).
INSERT INTO transform_keys (model, key)
SELECT 'dora_changes', deployment_id FROM dora_changes
WHERE failure_signal_id GLOBAL IN (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
    OR failure_signal_id GLOBAL IN (SELECT incident_id FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until));
-- Changes of a service near a changed time: a signal marks the latest
-- change within the window before it, so a new, moved or removed change or
-- signal at time t can change the rows of the service's changes that
-- finished within the window around t. Window-long buckets of time: every
-- change in the bucket of t, the one before or the one after. The times
-- are a recomputed deployment's finish before (dora_changes) and after
-- (deployment_facts) and start (a signal), and every version's detection
-- time of an incident with new events, for each service it names.
INSERT INTO transform_keys (model, key)
SELECT 'dora_changes', deployment_id FROM deployment_facts
WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
    AND (service_id, intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)) GLOBAL IN
    (
        SELECT service_id, arrayJoin([b - 1, b, b + 1])
        FROM
        (
            SELECT service_id, intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) AS b FROM deployment_facts
            WHERE isNotNull(finished_at) AND deployment_id GLOBAL IN (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
            UNION ALL
            SELECT service_id, intDiv(toInt64(started_at), @dora_window) AS b FROM deployment_facts
            WHERE deployment_id GLOBAL IN (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
            UNION ALL
            SELECT service_id, intDiv(toInt64(finished_at), @dora_window) AS b FROM dora_changes
            WHERE deployment_id GLOBAL IN (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
            UNION ALL
            SELECT service_id, intDiv(toInt64(detected_at), @dora_window) AS b
            FROM
            (
                SELECT arrayJoin(affected_service_ids) AS service_id, detected_at
                FROM (SELECT * FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
            )
        )
    );
-- Security fixes that name a recomputed finding and whose security-fix
-- lead time (finish minus the earliest detection of the findings it names)
-- differs from the stored one: a finding's detection time seldom changes,
-- and most recomputed findings are named by fixes of earlier months.
INSERT INTO transform_keys (model, key)
SELECT 'dora_changes', deployment_id
FROM
(
    SELECT deployment_id, (toInt64(any(finished)) - toInt64(min(detected_at))) / 3600 AS lead
    FROM
    (
        SELECT deployment_id, assumeNotNull(finished_at) AS finished, arrayJoin(fixes_finding_ids) AS finding_id
        FROM deployment_facts
        WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success' AND isNotNull(finished_at)
            AND deployment_id IN
            (
                SELECT deployment_id
                FROM (SELECT deployment_id, arrayJoin(fixes_finding_ids) AS finding_id FROM deployment_facts WHERE trigger = 'security_fix')
                WHERE finding_id GLOBAL IN (SELECT key FROM transform_keys WHERE model = 'findings')
            )
    ) AS fx
    ALL INNER JOIN
    (
        SELECT finding_id, detected_at FROM findings
        WHERE finding_id IN (SELECT arrayJoin(fixes_finding_ids) FROM deployment_facts WHERE trigger = 'security_fix')
    ) AS fd USING finding_id
    GROUP BY deployment_id
) AS recomputed
ALL INNER JOIN
(
    SELECT deployment_id, security_fix_lead_hours FROM dora_changes WHERE trigger = 'security_fix'
) AS stored USING deployment_id
WHERE isNull(security_fix_lead_hours) OR assumeNotNull(security_fix_lead_hours) != lead
