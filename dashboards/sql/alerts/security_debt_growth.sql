-- Alert rule security_debt_growth: per department, security debt (open
-- critical and high findings detected more than 365 days before) at the
-- end of the range minus the same at its start. A finding is open at t
-- when detected by t and neither fixed nor dismissed by t.
SELECT
    department,
    toFloat64(debt_end) - toFloat64(debt_start) AS value
FROM
(
    SELECT
        department,
        countIf(toInt64(detected_at) < t_end - 31536000
            AND NOT (status = 'fixed' AND isNotNull(fixed_at) AND toInt64(assumeNotNull(fixed_at)) <= t_end)
            AND NOT (status = 'dismissed' AND isNotNull(dismissed_at) AND toInt64(assumeNotNull(dismissed_at)) <= t_end)) AS debt_end,
        countIf(toInt64(detected_at) < t_start - 31536000
            AND NOT (status = 'fixed' AND isNotNull(fixed_at) AND toInt64(assumeNotNull(fixed_at)) <= t_start)
            AND NOT (status = 'dismissed' AND isNotNull(dismissed_at) AND toInt64(assumeNotNull(dismissed_at)) <= t_start)) AS debt_start
    FROM
    (
        SELECT department, detected_at, status, fixed_at, dismissed_at,
            toInt64($__toTime) AS t_end,
            toInt64($__fromTime) AS t_start
        FROM findings
        WHERE severity IN ('critical', 'high')
    )
    GROUP BY department
)
ORDER BY department
