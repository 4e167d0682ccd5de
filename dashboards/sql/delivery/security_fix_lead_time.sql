-- Hours from a finding's detection to the finish of the security fix that
-- shipped it (metric 11: a security_fix deployment to production that
-- succeeded and lists it in fixes_finding_ids), per finding severity.
SELECT
    severity,
    count() AS n_fixes,
    quantile(0.5)(hours) AS median_hours,
    quantile(0.9)(hours) AS p90_hours
FROM
(
    SELECT
        severity,
        (toInt64(deployed_at) - toInt64(detected_at)) / 3600 AS hours
    FROM
    (
        SELECT
            arrayJoin(fixes_finding_ids) AS finding_id,
            assumeNotNull(finished_at) AS deployed_at
        FROM deployment_facts
        WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success'
            AND isNotNull(finished_at) AND $__timeFilter(finished_at)
    ) AS fixes
    ANY INNER JOIN
    (
        SELECT finding_id, severity, detected_at FROM findings
    ) AS fixed USING finding_id
)
GROUP BY severity
ORDER BY severity
