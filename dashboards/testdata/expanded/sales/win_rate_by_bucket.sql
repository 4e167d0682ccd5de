-- Won / closed per security-review bucket with the Wilson 95% interval.
SELECT
    review_bucket,
    deals,
    won_deals,
    win_rate,
    (win_rate + 1.9208 / deals - 1.96 * sqrt(win_rate * (1 - win_rate) / deals + 0.9604 / (deals * deals))) / (1 + 3.8416 / deals) AS ci_low,
    (win_rate + 1.9208 / deals + 1.96 * sqrt(win_rate * (1 - win_rate) / deals + 0.9604 / (deals * deals))) / (1 + 3.8416 / deals) AS ci_high
FROM
(
    SELECT
        review_bucket,
        count() AS deals,
        sum(won) AS won_deals,
        won_deals / deals AS win_rate
    FROM deal_facts
    WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
    GROUP BY review_bucket
)
ORDER BY review_bucket
