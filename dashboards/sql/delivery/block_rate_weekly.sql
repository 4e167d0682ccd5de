SELECT
    toDateTime(toMonday(started_at)) AS time,
    avg(gate_blocked) AS block_rate,
    count() AS deployments
FROM deployment_facts
WHERE $__timeFilter(started_at)
GROUP BY time
ORDER BY time
