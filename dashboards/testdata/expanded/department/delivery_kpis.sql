SELECT
    toDateTime(toMonday(started_at)) AS time,
    count() AS deployments,
    quantile(0.5)(lead_time_hours) AS median_lead_time_hours
FROM deployment_facts
WHERE started_at >= toDateTime(1767225600) AND started_at <= toDateTime(1782864000)
    AND department = decodeURLComponent('Engineering')
    AND (decodeURLComponent('__all') = '__all' OR team = decodeURLComponent('__all'))
GROUP BY time
ORDER BY time
