-- Partitions to rebuild in an incremental refresh: those the changed
-- entities were in (live table) and those their recomputed rows go to
-- (new table). An entity may move (an open finding that is fixed leaves
-- the open partition for the month of its fix): both are rebuilt.
SELECT DISTINCT p
FROM
(
    SELECT toString({{.Partition}}) AS p FROM {{.Source}}
    WHERE {{.Key}} IN (SELECT key FROM transform_keys WHERE model = '{{.Model}}')
    UNION ALL
    SELECT toString({{.Partition}}) AS p FROM {{.Table}}
)
ORDER BY p
