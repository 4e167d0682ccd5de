-- Alert rule sla_breaches: per department, the critical and high findings
-- still open past their remediation due date at the end of the range. The
-- department column becomes the alert's label (notifications are routed
-- by it); value is the one numeric column Grafana alerting on tables
-- takes. Departments without a breach answer 0, so their alert resolves.
SELECT
    department,
    toFloat64(countIf(severity IN ('critical', 'high')
        AND status = 'open'
        AND isNotNull(sla_due_at)
        AND toInt64(assumeNotNull(sla_due_at)) < toInt64($__toTime))) AS value
FROM findings
WHERE toInt64(detected_at) <= toInt64($__toTime)
GROUP BY department
ORDER BY department
