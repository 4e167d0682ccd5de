-- Findings to recompute: new or changed finding events, and findings of
-- services whose catalog entry changed (team/department as of detection).
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'findings', finding_id FROM finding_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
{{- if .CatalogChanged}}
-- (Only when the catalog has new rows: the read of every finding costs
-- 0.1 s at 10M events even with no service to match.)
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'findings', finding_id FROM findings
WHERE service_id {{.In}} (SELECT service_id FROM service_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
;
{{- end}}
-- within_sla of an open finding flips to 0 when it becomes overdue as of
-- the new as-of time, without any new event; a decided finding (fixed
-- early) joins its due-date cohort (sla_cohort_month) once its due date
-- passes.
INSERT INTO transform_keys (model, key)
SELECT 'findings', finding_id FROM findings
WHERE (status = 'open' AND isNull(within_sla) AND sla_due_at < toDateTime(@asof))
    OR (isNotNull(within_sla) AND isNull(sla_cohort_month) AND sla_due_at <= toDateTime(@asof))
