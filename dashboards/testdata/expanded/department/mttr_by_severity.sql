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
        if(isNull(days_to_fix), (toInt64(toDateTime(1782864000)) - toInt64(detected_at)) / 86400, toFloat64(assumeNotNull(days_to_fix))) AS days
    FROM findings
    WHERE detected_at >= toDateTime(1767225600) AND detected_at <= toDateTime(1782864000)
        AND department = decodeURLComponent('Engineering')
        AND (decodeURLComponent('__all') = '__all' OR team = decodeURLComponent('__all'))
        AND status != 'dismissed'
)
GROUP BY severity
ORDER BY severity
