SELECT
    toDateTime(toStartOfQuarter(closed_at)) AS time,
    avgIf(won, review_bucket = 'fast') AS fast_review_win_rate,
    avgIf(won, review_bucket = 'slow') AS slow_review_win_rate,
    countIf(review_bucket = 'fast') AS fast_deals,
    countIf(review_bucket = 'slow') AS slow_deals
FROM deal_facts
WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
GROUP BY time
ORDER BY time
