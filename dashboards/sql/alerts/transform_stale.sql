-- Alert rule transform_stale: seconds from the last refresh of impact
-- transform (the whole-run row of transform_runs) to the end of the range;
-- a database never refreshed answers the whole epoch.
SELECT
    toFloat64(toInt64($__toTime) - toInt64(max(started_at))) AS value
FROM transform_runs
WHERE table_name = '*'
    AND toInt64(started_at) <= toInt64($__toTime)
