SELECT
    toDateTime(toMonday(started_at)) AS time,
    count() AS deployments,
    quantile(0.5)(lead_time_hours) AS median_lead_time_hours
FROM deployment_facts
WHERE $__timeFilter(started_at)
    AND department = decodeURLComponent('${department:percentencode}')
    AND (decodeURLComponent('${team:percentencode}') = '__all' OR team = decodeURLComponent('${team:percentencode}'))
GROUP BY time
ORDER BY time
