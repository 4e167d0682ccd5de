-- Hours from a finding's detection to the finish of the successful
-- deployment that lists it in fixes_finding_ids (latest state per
-- deployment), per finding severity.
SELECT
    severity,
    count() AS fixes,
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
            arrayJoin(fixed_ids) AS finding_id,
            deployed_at
        FROM
        (
            SELECT
                deployment_id,
                argMax(fixes_finding_ids, event_time) AS fixed_ids,
                argMax(status, event_time) AS last_status,
                argMax(finished_at, event_time) AS deployed_at
            FROM deployment_events
            GROUP BY deployment_id
        )
        WHERE last_status = 'success' AND isNotNull(deployed_at) AND $__timeFilter(deployed_at)
    )
    ANY INNER JOIN
    (
        SELECT finding_id, severity, detected_at FROM findings
    ) USING finding_id
)
GROUP BY severity
ORDER BY severity
