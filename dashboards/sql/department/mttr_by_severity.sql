-- Days to fix per severity; open findings enter with their age so far (a
-- lower bound) instead of being dropped.
SELECT
    severity,
    count() AS findings,
    countIf(status = 'open') AS still_open,
    quantile(0.5)(days) AS median_days,
    quantile(0.9)(days) AS p90_days
FROM
(
    SELECT
        severity,
        status,
        if(isNull(days_to_fix), (toInt64($__toTime) - toInt64(detected_at)) / 86400, toFloat64(assumeNotNull(days_to_fix))) AS days
    FROM findings
    WHERE $__timeFilter(detected_at)
        AND department = decodeURLComponent('${department:percentencode}')
        AND (decodeURLComponent('${team:percentencode}') = '__all' OR team = decodeURLComponent('${team:percentencode}'))
        AND status != 'dismissed'
)
GROUP BY severity
ORDER BY severity
