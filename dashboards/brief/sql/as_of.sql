-- The as-of instant of the latest transform run: the default period ends
-- at the last quarter boundary before it.
SELECT toInt64(max(as_of)) AS as_of, count() AS n FROM impact_stats
