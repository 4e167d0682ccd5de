-- A layered model's table is this view: the rows of its base table, bar
-- the entities recomputed since the base was written, and those entities'
-- rows (its delta table). A refresh writes new tables under other names
-- and swaps this view; it never changes a table a published view reads.
-- RENAME waits for the queries reading the view it renames, so a query
-- reads the base and delta of one refresh, even though it names the delta
-- twice. The view names the model's columns, not the key hash the layer
-- tables keep for it (layer_key.sql).
CREATE VIEW {{.Table}} AS
SELECT {{.Columns}} FROM {{.Base}}
{{- if .Delta}}
WHERE layer_key_hash NOT IN (SELECT layer_key_hash FROM {{.Delta}})
UNION ALL
SELECT {{.Columns}} FROM {{.Delta}}
{{- end}}
