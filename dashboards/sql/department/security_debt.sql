-- Open critical/high findings older than 365 days at the end of the range.
SELECT
    countIf(status = 'open' AND severity IN ('critical', 'high') AND detected_at < $__toTime - 365 * 86400) AS security_debt,
    countIf(status = 'open') AS open_findings
FROM findings
WHERE department = decodeURLComponent('${department:percentencode}')
    AND (decodeURLComponent('${team:percentencode}') = '__all' OR team = decodeURLComponent('${team:percentencode}'))
    AND detected_at <= $__toTime
