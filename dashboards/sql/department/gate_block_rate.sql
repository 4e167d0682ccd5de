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
    WHERE $__timeFilter(started_at)
        AND department = decodeURLComponent('${department:percentencode}')
        AND (decodeURLComponent('${team:percentencode}') = '__all' OR team = decodeURLComponent('${team:percentencode}'))
)
