-- A layered model's new delta (or, when folding, new base) holds the
-- entities recomputed in this refresh, written before, and the earlier
-- delta's other entities, which are still current.
INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}} FROM {{.Delta}}
WHERE {{.Key}} NOT IN (SELECT key FROM transform_keys WHERE model = '{{.Model}}')
