-- DORA with a security lens, per department, team and service, each split
-- by whether a security gate blocked the change: changes (successful
-- production deployments, rollbacks aside) finished in the range, changes
-- per week, median lead time, change failure rate (a rollback, hotfix or
-- incident on the service within the failure window) with its Wilson 95%
-- interval, median time to restore, and the median security-fix lead time
-- (finding detected -> the change that fixes it) of the security fixes.
SELECT
    level, name, gate, changes AS n_changes,
    changes / weeks AS changes_per_week,
    median_lead_time_hours,
    failure_rate,
    (failure_rate + 1.9208 / changes - 1.96 * sqrt(failure_rate * (1 - failure_rate) / changes + 0.9604 / (changes * changes))) / (1 + 3.8416 / changes) AS failure_rate_ci_low,
    (failure_rate + 1.9208 / changes + 1.96 * sqrt(failure_rate * (1 - failure_rate) / changes + 0.9604 / (changes * changes))) / (1 + 3.8416 / changes) AS failure_rate_ci_high,
    failures,
    median_restore_hours,
    security_fixes,
    median_security_fix_lead_hours
FROM
(
    SELECT
        level, name, if(gate_blocked = 1, 'blocked', 'not blocked') AS gate,
        count() AS changes,
        sum(change_failure) AS failures,
        failures / changes AS failure_rate,
        quantileExact(0.5)(lead_time_hours) AS median_lead_time_hours,
        quantileExact(0.5)(restore_hours) AS median_restore_hours,
        countIf(isNotNull(security_fix_lead_hours)) AS security_fixes,
        quantileExact(0.5)(security_fix_lead_hours) AS median_security_fix_lead_hours,
        (toInt64(toDateTime(1782864000)) - toInt64(toDateTime(1767225600))) / 604800 AS weeks
    FROM
    (
        SELECT 'department' AS level, department AS name, gate_blocked, change_failure, lead_time_hours, restore_hours, security_fix_lead_hours
        FROM dora_changes WHERE finished_at >= toDateTime(1767225600) AND finished_at <= toDateTime(1782864000)
        UNION ALL
        SELECT 'team' AS level, team AS name, gate_blocked, change_failure, lead_time_hours, restore_hours, security_fix_lead_hours
        FROM dora_changes WHERE finished_at >= toDateTime(1767225600) AND finished_at <= toDateTime(1782864000)
        UNION ALL
        SELECT 'service' AS level, service_id AS name, gate_blocked, change_failure, lead_time_hours, restore_hours, security_fix_lead_hours
        FROM dora_changes WHERE finished_at >= toDateTime(1767225600) AND finished_at <= toDateTime(1782864000)
    )
    GROUP BY level, name, gate
)
ORDER BY level, name, gate
