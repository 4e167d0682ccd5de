SELECT
    toDateTime(toMonday(started_at)) AS time,
    count() AS deployments,
    quantile(0.5)(lead_time_hours) AS median_lead_time_hours
FROM deployment_facts
WHERE $__timeFilter(started_at)
    AND department = '${department}'
    AND ('${team}' = '__all' OR team = '${team}')
GROUP BY time
ORDER BY time
