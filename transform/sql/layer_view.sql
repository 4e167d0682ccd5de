-- A layered model's table is this view: the rows of its base table, bar
-- the entities recomputed since the base was written, and those entities'
-- rows (its delta table). A refresh writes new tables under other names
-- and swaps this view; it never changes a table a published view reads.
-- RENAME waits for the queries reading the view it renames, so a query
-- reads the base and delta of one refresh, even though it names the delta
-- twice.
CREATE VIEW {{.Table}} AS
SELECT * FROM {{.Base}}
{{- if .Delta}}
WHERE {{.Key}} NOT IN (SELECT {{.Key}} FROM {{.Delta}})
UNION ALL
SELECT * FROM {{.Delta}}
{{- end}}
