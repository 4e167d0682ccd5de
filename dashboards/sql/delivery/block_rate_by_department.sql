SELECT
    department,
    avg(gate_blocked) AS block_rate,
    count() AS deployments
FROM deployment_facts
WHERE $__timeFilter(started_at)
GROUP BY department
ORDER BY department
