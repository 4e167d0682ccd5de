-- Folding a layered model's delta into a new base: the entities whose
-- rows in the base are out of date are those recomputed in this refresh
-- and those of the delta. They are the working set <model>/fold, which the
-- partition copy (partitions.sql, copy.sql) leaves out of the base.
INSERT INTO transform_keys (model, key)
SELECT '{{.Model}}/fold', key FROM transform_keys WHERE model = '{{.Model}}'
{{- if .Delta}}
UNION ALL
SELECT '{{.Model}}/fold', {{.Key}} FROM {{.Delta}}
{{- end}}
