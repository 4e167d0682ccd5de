SELECT
    toDateTime(toDate(month)) AS time,
    sum(open_critical) AS critical,
    sum(open_high) AS high,
    sum(open_medium) AS medium,
    sum(open_low) AS low
FROM department_scorecard
WHERE department = decodeURLComponent('${department:percentencode}')
    AND toDate(month) >= toStartOfMonth($__fromTime) AND toDate(month) <= toDate($__toTime)
GROUP BY time
ORDER BY time
