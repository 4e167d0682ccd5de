-- Open critical/high findings older than 365 days at the end of the range.
SELECT
    countIf(status = 'open' AND severity IN ('critical', 'high') AND detected_at < toDateTime(1782864000) - 365 * 86400) AS security_debt,
    countIf(status = 'open') AS open_findings
FROM findings
WHERE department = decodeURLComponent('Engineering')
    AND (decodeURLComponent('__all') = '__all' OR team = decodeURLComponent('__all'))
    AND detected_at <= toDateTime(1782864000)
