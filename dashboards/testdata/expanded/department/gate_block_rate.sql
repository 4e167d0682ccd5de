SELECT
    block_rate,
    (block_rate + 1.9208 / deployments - 1.96 * sqrt(block_rate * (1 - block_rate) / deployments + 0.9604 / (deployments * deployments))) / (1 + 3.8416 / deployments) AS ci_low,
    (block_rate + 1.9208 / deployments + 1.96 * sqrt(block_rate * (1 - block_rate) / deployments + 0.9604 / (deployments * deployments))) / (1 + 3.8416 / deployments) AS ci_high,
    deployments
FROM
(
    SELECT
        count() AS deployments,
        sum(gate_blocked) / deployments AS block_rate
    FROM deployment_facts
    WHERE started_at >= toDateTime(1767225600) AND started_at <= toDateTime(1782864000)
        AND department = decodeURLComponent('Engineering')
        AND (decodeURLComponent('__all') = '__all' OR team = decodeURLComponent('__all'))
)
