-- Rows of the base whose key hash a row of the new delta has, though not
-- their key (two keys with one sipHash64): the view would hide them, so
-- the refresh folds instead of keeping the delta (layer_key.sql). The
-- hashes pick the few candidate rows (PREWHERE, one integer column); only
-- their keys are compared.
SELECT count()
FROM {{.Base}}
PREWHERE layer_key_hash IN (SELECT layer_key_hash FROM {{.Delta}})
WHERE {{.Key}} NOT IN (SELECT {{.Key}} FROM {{.Delta}})
