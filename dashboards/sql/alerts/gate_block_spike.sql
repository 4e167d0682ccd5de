-- Alert rule gate_block_spike: per department, how far the security gate
-- block rate of the last 7 days of the range is above the rate of the
-- rest of the range, beyond chance: the lower limit of the recent rate's
-- Wilson 95% interval minus the baseline rate. Below 10 deployments in
-- either window the department answers 0 (too few to tell).
SELECT
    department,
    if(n_recent >= 10 AND n_base >= 10,
        (p + 1.9208 / n_recent - 1.96 * sqrt(p * (1 - p) / n_recent + 0.9604 / (n_recent * n_recent))) / (1 + 3.8416 / n_recent) - b_base / n_base,
        0) AS value
FROM
(
    SELECT
        department,
        countIf(recent) AS n_recent,
        countIf(recent AND gate_blocked = 1) / n_recent AS p,
        countIf(NOT recent) AS n_base,
        countIf(NOT recent AND gate_blocked = 1) AS b_base
    FROM
    (
        SELECT department, gate_blocked, toInt64(started_at) > toInt64($__toTime) - 604800 AS recent
        FROM deployment_facts
        WHERE toInt64(started_at) >= toInt64($__fromTime)
            AND toInt64(started_at) <= toInt64($__toTime)
    )
    GROUP BY department
)
ORDER BY department
