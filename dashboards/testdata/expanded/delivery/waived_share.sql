-- Of blocking gate runs that did not pass (latest state per run), the share
-- that was waived rather than left failing; Wilson 95% interval.
SELECT
    waived_share,
    (waived_share + 1.9208 / gate_runs - 1.96 * sqrt(waived_share * (1 - waived_share) / gate_runs + 0.9604 / (gate_runs * gate_runs))) / (1 + 3.8416 / gate_runs) AS ci_low,
    (waived_share + 1.9208 / gate_runs + 1.96 * sqrt(waived_share * (1 - waived_share) / gate_runs + 0.9604 / (gate_runs * gate_runs))) / (1 + 3.8416 / gate_runs) AS ci_high,
    gate_runs
FROM
(
    SELECT
        count() AS gate_runs,
        countIf(last_result = 'waived') / gate_runs AS waived_share
    FROM
    (
        SELECT
            run_id,
            argMax(result, event_time) AS last_result,
            argMax(blocking, event_time) AS last_blocking,
            argMax(completed_at, event_time) AS last_completed_at
        FROM gate_events
        GROUP BY run_id
    )
    WHERE last_blocking = 1 AND last_result IN ('fail', 'waived') AND last_completed_at >= toDateTime(1767225600) AND last_completed_at <= toDateTime(1782864000)
)
