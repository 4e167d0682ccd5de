-- Lead time (first commit -> finished) of gate-blocked and unblocked
-- deployments, like with like: successful deployments, per environment.
SELECT
    environment,
    if(gate_blocked = 1, 'blocked', 'not blocked') AS gate,
    count() AS n_deployments,
    quantile(0.5)(lead_time_hours) AS median_lead_time_hours,
    quantile(0.9)(lead_time_hours) AS p90_lead_time_hours,
    quantile(0.5)(gate_wait_hours) AS median_gate_wait_hours
FROM deployment_facts
WHERE $__timeFilter(started_at) AND status = 'success' AND isNotNull(lead_time_hours)
GROUP BY environment, gate
ORDER BY environment, gate
