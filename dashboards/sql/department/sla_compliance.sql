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
    WHERE $__timeFilter(sla_due_at)
        AND department = decodeURLComponent('${department:percentencode}')
        AND (decodeURLComponent('${team:percentencode}') = '__all' OR team = decodeURLComponent('${team:percentencode}'))
)
