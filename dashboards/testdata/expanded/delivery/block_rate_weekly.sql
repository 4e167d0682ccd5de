SELECT
    toDateTime(toMonday(started_at)) AS time,
    avg(gate_blocked) AS block_rate,
    count() AS deployments
FROM deployment_facts
WHERE started_at >= toDateTime(1767225600) AND started_at <= toDateTime(1782864000)
GROUP BY time
ORDER BY time
