SELECT
    toDateTime(toStartOfQuarter(closed_at)) AS time,
    avgIf(won, review_bucket = 'fast') AS fast_review_win_rate,
    avgIf(won, review_bucket = 'slow') AS slow_review_win_rate,
    countIf(review_bucket = 'fast') AS fast_deals,
    countIf(review_bucket = 'slow') AS slow_deals
FROM deal_facts
WHERE $__timeFilter(closed_at)
GROUP BY time
ORDER BY time
