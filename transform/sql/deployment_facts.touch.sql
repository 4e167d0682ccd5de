-- Deployments to recompute: new or changed deployment events, deployments
-- of a service and commit with new gate runs, and deployments of services
-- whose catalog entry changed.
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deployment_facts', deployment_id FROM deployment_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
-- The gate match uses the deployment's latest state, which for a deployment
-- without new events is its row in the live table (one row per deployment,
-- half the rows of deployment_events); those with new events are touched
-- above.
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deployment_facts', deployment_id FROM deployment_facts
WHERE cityHash64(service_id, ifNull(commit_sha, '')) {{.In}} (
    SELECT cityHash64(service_id, ifNull(commit_sha, '')) FROM gate_events
    WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until) AND isNotNull(commit_sha));
{{- if .CatalogChanged}}
-- (Only when the catalog has new rows.)
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deployment_facts', deployment_id FROM deployment_facts
WHERE service_id {{.In}} (SELECT service_id FROM service_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
{{- end}}
