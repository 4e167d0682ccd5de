SELECT
    department,
    avg(gate_blocked) AS block_rate,
    count() AS deployments
FROM deployment_facts
WHERE started_at >= toDateTime(1767225600) AND started_at <= toDateTime(1782864000)
GROUP BY department
ORDER BY department
