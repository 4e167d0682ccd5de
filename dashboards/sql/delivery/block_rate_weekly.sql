-- Block rate per week with the week's deployments; weeks below the minimum
-- n impact_stats applies (min_n) are gaps, not points.
SELECT
    time,
    if(n_deployments >= (SELECT max(min_n) FROM impact_stats), rate, NULL) AS block_rate,
    n_deployments
FROM
(
    SELECT
        toDateTime(toMonday(started_at)) AS time,
        avg(gate_blocked) AS rate,
        count() AS n_deployments
    FROM deployment_facts
    WHERE $__timeFilter(started_at)
    GROUP BY time
)
ORDER BY time
