-- Median lead time (first commit -> finished) of deployments a blocking
-- security gate failed for, minus that of deployments without a block.
SELECT
    median_blocked - median_unblocked AS difference_hours,
    median_blocked AS median_blocked_hours,
    median_unblocked AS median_unblocked_hours,
    n_blocked,
    n_unblocked
FROM
(
    SELECT
        quantileExactIf(0.5)(assumeNotNull(lead_time_hours), gate_blocked = 1) AS median_blocked,
        quantileExactIf(0.5)(assumeNotNull(lead_time_hours), gate_blocked = 0) AS median_unblocked,
        countIf(gate_blocked = 1) AS n_blocked,
        countIf(gate_blocked = 0) AS n_unblocked
    FROM deployment_facts
    WHERE started_at >= toDateTime(1767225600) AND started_at <= toDateTime(1782864000) AND isNotNull(lead_time_hours)
)
