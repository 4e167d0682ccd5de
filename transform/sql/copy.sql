-- Incremental refresh: carry over the unchanged entities of the partitions
-- being rebuilt (those that held or now hold a changed entity). The other
-- partitions are attached from the live table as they are (carry.sql).
INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}} FROM {{.Source}}
PREWHERE {{.Partition}} IN ({{.Partitions}})
WHERE {{.Key}} NOT IN (SELECT key FROM transform_keys WHERE model = '{{.Model}}')
