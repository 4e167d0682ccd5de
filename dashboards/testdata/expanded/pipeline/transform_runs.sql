-- The latest refresh of each analyst table by impact transform.
SELECT
    table_name,
    max(started_at) AS last_refresh,
    toInt64(toDateTime(1782864000)) - toInt64(last_refresh) AS seconds_since,
    argMax(mode, started_at) AS last_mode,
    argMax(duration_ms, started_at) AS last_duration_ms,
    argMax(rows, started_at) AS table_rows,
    count() AS refreshes
FROM transform_runs
WHERE started_at <= toDateTime(1782864000)
GROUP BY table_name
ORDER BY table_name
