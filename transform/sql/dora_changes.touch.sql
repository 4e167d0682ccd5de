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
WHERE failure_signal_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
    OR failure_signal_id {{.In}} (SELECT incident_id FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until));
-- Changes of a service near a changed time: a signal marks the latest
-- change within the window before it, so a new, moved or removed change or
-- signal at time t can change the rows of the service's changes that
-- finished within the window around t. Window-long buckets of time: every
-- change in the bucket of t, the one before or the one after. The times
-- are a recomputed deployment's finish before (dora_changes) and after
-- (deployment_facts) and start (a signal), and every version's detection
-- time of an incident with new events, for each service it names. Their
-- (service, bucket) pairs are kept under the helper model
-- dora_changes/times as "bucket service_id", so that the changes near them
-- are read from deployment_facts once, and only from the rows at or after
-- the earliest bucket (PREWHERE: the set lookups run on those rows only).
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'dora_changes/times', concat(toString(b), ' ', service_id)
FROM
(
    SELECT service_id,
        arrayJoin(arrayConcat([intDiv(toInt64(started_at), @dora_window)],
            if(isNotNull(finished_at), [intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)], emptyArrayInt64()))) AS b
    FROM deployment_facts
    WHERE deployment_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
    UNION ALL
    SELECT service_id, intDiv(toInt64(finished_at), @dora_window) AS b FROM dora_changes
    WHERE deployment_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'deployment_facts')
    UNION ALL
    SELECT service_id, intDiv(toInt64(detected_at), @dora_window) AS b
    FROM
    (
        SELECT arrayJoin(affected_service_ids) AS service_id, detected_at
        FROM (SELECT * FROM incident_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
    )
);
INSERT INTO transform_keys (model, key)
SELECT 'dora_changes', deployment_id FROM deployment_facts
PREWHERE isNotNull(finished_at) AND intDiv(toInt64(assumeNotNull(finished_at)), @dora_window) >=
    (SELECT min(toInt64(substring(key, 1, position(key, ' ') - 1))) FROM transform_keys WHERE model = 'dora_changes/times') - 1
WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at) AND trigger != 'rollback'
    AND (service_id, intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)) {{.In}}
    (
        SELECT substring(key, position(key, ' ') + 1), arrayJoin([b - 1, b, b + 1])
        FROM (SELECT key, toInt64(substring(key, 1, position(key, ' ') - 1)) AS b FROM transform_keys WHERE model = 'dora_changes/times')
    );
-- Security fixes that name a recomputed finding and whose security-fix
-- lead times (finish minus the detection of each finding it names, found
-- in findings) differ from the stored ones: a finding's detection time
-- seldom changes, and most recomputed findings are named by fixes of
-- earlier months. The few fixes that name one make the hash table of the
-- join; the findings and the stored rows stream past it. (The stored lead
-- times are sorted: dora_changes.sql.)
INSERT INTO transform_keys (model, key)
SELECT 'dora_changes', deployment_id
FROM
(
    SELECT deployment_id, security_fix_finding_lead_hours FROM dora_changes WHERE trigger = 'security_fix'
) AS stored
ALL INNER JOIN
(
    SELECT deployment_id, groupArray((toInt64(finished) - toInt64(detected_at)) / 3600) AS leads
    FROM (SELECT finding_id, detected_at FROM findings) AS fd
    ALL INNER JOIN
    (
        SELECT deployment_id, assumeNotNull(finished_at) AS finished, arrayJoin(fixes_finding_ids) AS finding_id
        FROM deployment_facts
        -- The names are looked up for the security fixes only.
        PREWHERE trigger = 'security_fix'
        WHERE environment = 'production' AND status = 'success' AND isNotNull(finished_at)
            AND arrayExists(f -> f {{.In}} (SELECT key FROM transform_keys WHERE model = 'findings'), fixes_finding_ids)
    ) AS fx USING finding_id
    GROUP BY deployment_id
) AS recomputed USING deployment_id
WHERE security_fix_finding_lead_hours != arraySort(leads);
-- The recompute's (service, bucket) pairs, computed once: the window-long
-- buckets of the recomputed changes' finishes, as "bucket service_id"
-- under the helper model dora_changes/buckets (dora_changes.sql).
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'dora_changes/buckets', concat(toString(intDiv(toInt64(assumeNotNull(finished_at)), @dora_window)), ' ', service_id)
FROM deployment_facts
WHERE isNotNull(finished_at) AND deployment_id {{.In}} (SELECT key FROM transform_keys WHERE model = 'dora_changes')
