-- Incremental refresh: carry over the unchanged entities of the partitions
-- being rebuilt (those that held or now hold a changed entity). The source
-- is a scratch table holding only those partitions of the live table
-- (attached with carry.sql), so no other partition is read; the other
-- partitions are attached to the new table as they are (carry.sql).
INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}} FROM {{.Source}}
WHERE {{.Key}} NOT IN (SELECT key FROM transform_keys WHERE model = '{{.Model}}')
