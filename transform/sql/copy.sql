-- Incremental refresh: carry over every entity that did not change.
INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}} FROM {{.Source}}
WHERE {{.Key}} NOT IN (SELECT key FROM transform_keys WHERE model = '{{.Model}}')
