-- Median review turnaround and the median share of the deal's cycle
-- (created -> closed) the review took, over completed reviews.
SELECT
    quantile(0.5)(turnaround) AS median_turnaround_days,
    quantile(0.5)(turnaround / cycle_days) AS median_share_of_cycle,
    count() AS reviews
FROM
(
    SELECT
        assumeNotNull(review_turnaround_days) AS turnaround,
        greatest((toInt64(closed_at) - toInt64(created_at)) / 86400, 1 / 24) AS cycle_days
    FROM deal_facts
    WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000) AND isNotNull(review_turnaround_days)
)
