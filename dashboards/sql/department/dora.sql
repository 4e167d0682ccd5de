-- The department's DORA figures per team (and for the whole department),
-- split by whether a security gate blocked the change: changes finished in
-- the range, changes per week, median lead time, change failure rate with
-- its Wilson 95% interval, median time to restore, security fixes and
-- their median lead time.
SELECT
    team, gate, changes AS n_changes,
    changes / weeks AS changes_per_week,
    median_lead_time_hours,
    failure_rate,
    (failure_rate + 1.9208 / changes - 1.96 * sqrt(failure_rate * (1 - failure_rate) / changes + 0.9604 / (changes * changes))) / (1 + 3.8416 / changes) AS failure_rate_ci_low,
    (failure_rate + 1.9208 / changes + 1.96 * sqrt(failure_rate * (1 - failure_rate) / changes + 0.9604 / (changes * changes))) / (1 + 3.8416 / changes) AS failure_rate_ci_high,
    median_restore_hours,
    median_security_fix_lead_hours
FROM
(
    SELECT
        team, if(gate_blocked = 1, 'blocked', 'not blocked') AS gate,
        count() AS changes,
        sum(change_failure) / changes AS failure_rate,
        quantileExact(0.5)(lead_time_hours) AS median_lead_time_hours,
        quantileExact(0.5)(restore_hours) AS median_restore_hours,
        quantileExact(0.5)(security_fix_lead_hours) AS median_security_fix_lead_hours,
        (toInt64($__toTime) - toInt64($__fromTime)) / 604800 AS weeks
    FROM
    (
        SELECT team, gate_blocked, change_failure, lead_time_hours, restore_hours, security_fix_lead_hours
        FROM dora_changes
        WHERE $__timeFilter(finished_at)
            AND department = decodeURLComponent('${department:percentencode}')
            AND (decodeURLComponent('${team:percentencode}') = '__all' OR team = decodeURLComponent('${team:percentencode}'))
        UNION ALL
        -- The whole department, whichever team is selected: the figure a
        -- team compares itself with. (No team filter here: it would read
        -- the alias team, '(department)', and drop every row.)
        SELECT '(department)' AS team, gate_blocked, change_failure, lead_time_hours, restore_hours, security_fix_lead_hours
        FROM dora_changes
        WHERE $__timeFilter(finished_at)
            AND department = decodeURLComponent('${department:percentencode}')
    )
    GROUP BY team, gate
)
ORDER BY team != '(department)', team, gate
