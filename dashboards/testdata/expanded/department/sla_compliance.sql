-- Share of the department's findings due in the range that were fixed within
-- their remediation SLA (open and overdue counts as missed; open and not yet
-- due is excluded), Wilson 95% interval.
SELECT
    compliance,
    (compliance + 1.9208 / findings - 1.96 * sqrt(compliance * (1 - compliance) / findings + 0.9604 / (findings * findings))) / (1 + 3.8416 / findings) AS ci_low,
    (compliance + 1.9208 / findings + 1.96 * sqrt(compliance * (1 - compliance) / findings + 0.9604 / (findings * findings))) / (1 + 3.8416 / findings) AS ci_high,
    findings
FROM
(
    SELECT
        count(within_sla) AS findings,
        sum(within_sla) / findings AS compliance
    FROM findings
    WHERE sla_due_at >= toDateTime(1767225600) AND sla_due_at <= toDateTime(1782864000)
        AND department = decodeURLComponent('Engineering')
        AND (decodeURLComponent('__all') = '__all' OR team = decodeURLComponent('__all'))
)
