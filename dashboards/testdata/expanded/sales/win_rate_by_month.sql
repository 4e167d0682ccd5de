SELECT
    toDateTime(toStartOfMonth(closed_at)) AS time,
    avgIf(won, review_bucket = 'fast') AS fast,
    avgIf(won, review_bucket = 'medium') AS medium,
    avgIf(won, review_bucket = 'slow') AS slow,
    avgIf(won, review_bucket = 'incomplete') AS incomplete,
    avgIf(won, review_bucket = 'none') AS no_review
FROM deal_facts
WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
GROUP BY time
ORDER BY time
