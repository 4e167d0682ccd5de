SELECT
    review_bucket,
    quantile(0.5)(cycle_days) AS median_cycle_days,
    quantile(0.9)(cycle_days) AS p90_cycle_days,
    count() AS deals
FROM
(
    SELECT
        review_bucket,
        (toInt64(closed_at) - toInt64(created_at)) / 86400 AS cycle_days
    FROM deal_facts
    WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
)
GROUP BY review_bucket
ORDER BY review_bucket
