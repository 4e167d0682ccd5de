SELECT
    toDateTime(toDate(month)) AS time,
    sum(open_critical) AS critical,
    sum(open_high) AS high,
    sum(open_medium) AS medium,
    sum(open_low) AS low
FROM department_scorecard
WHERE department = decodeURLComponent('Engineering')
    AND toDate(month) >= toStartOfMonth(toDateTime(1767225600)) AND toDate(month) <= toDate(toDateTime(1782864000))
GROUP BY time
ORDER BY time
