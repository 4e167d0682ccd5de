CREATE TABLE IF NOT EXISTS {{.Table}} (
    team String COMMENT 'Owning team (findings.team).',
    department String COMMENT 'Owning department (findings.department).',
    severity String COMMENT 'critical, high, medium, low or info.',
    status String COMMENT 'open, fixed or dismissed.',
    within_sla Nullable(UInt8) COMMENT 'findings.within_sla of the group: 1 fixed within the SLA, 0 not, null not decided yet.',
    sla_cohort_month Nullable(Date) COMMENT 'findings.sla_cohort_month of the group (the due-date cohort); null when not in one.',
    detected_month Date COMMENT 'Month of detected_at.',
    detected_before_as_of UInt8 COMMENT '1 when detected before as_of.',
    debt_age UInt8 COMMENT '1 for critical and high findings detected more than 365 days before as_of: security debt while they are open.',
    debt_month Date COMMENT 'When debt_age: the month detected_at + 365 days falls in (from then on an open finding is debt); else detected_month.',
    close_month Date COMMENT 'Month the finding was fixed or dismissed (fixed_at or dismissed_at, else its last event), when that was before as_of; else the month after the as-of month (still open at as_of).',
    fixed UInt8 COMMENT '1 when status is fixed and fixed_at is known.',
    fix_month Date COMMENT 'Month of fixed_at when fixed; else 1970-01-01.',
    findings UInt64 COMMENT 'Findings in the group.',
    days Array(Float64) COMMENT 'Each finding''s days from detected_at to its fix or dismissal (fixed_at or dismissed_at, else its last event), or to as_of while open: the times to fix, censored for open and dismissed findings; in ascending order.',
    as_of DateTime COMMENT 'The as-of time of the refresh that counted the groups.'
) ENGINE = MergeTree ORDER BY (department, team, severity, status)
