CREATE TABLE IF NOT EXISTS {{.Table}} (
    finding_id String COMMENT 'Finding id from the scanner (entity id of security.finding.* events).',
    scanner String COMMENT 'Scanner or source that reported the finding.',
    category String COMMENT 'sca, sast, dast, container, cloud, secret, pentest or other.',
    title Nullable(String) COMMENT 'Finding title, when sent.',
    cve_id Nullable(String) COMMENT 'CVE identifier, when known.',
    cwe_id Nullable(String) COMMENT 'CWE identifier, when known.',
    severity String COMMENT 'critical, high, medium, low or info (latest state).',
    cvss Nullable(Float64) COMMENT 'CVSS base score, when sent.',
    epss Nullable(Float64) COMMENT 'EPSS probability, when sent.',
    kev Nullable(UInt8) COMMENT '1 when listed in CISA KEV, when sent.',
    service_id String COMMENT 'Service the finding belongs to (catalog service_id).',
    repo Nullable(String) COMMENT 'Source repository, when sent.',
    status String COMMENT 'open, fixed or dismissed (latest state by event time).',
    detected_at DateTime COMMENT 'When the finding was first detected (UTC).',
    fixed_at Nullable(DateTime) COMMENT 'When it was fixed; null unless fixed.',
    dismissed_at Nullable(DateTime) COMMENT 'When it was dismissed; null unless dismissed.',
    dismissed_reason Nullable(String) COMMENT 'Why it was dismissed, when sent.',
    internet_facing Nullable(UInt8) COMMENT '1 when the affected asset is internet facing, when sent.',
    team String COMMENT 'Owning team from the service catalog as of detected_at (latest effective_at <= detected_at); empty when the catalog has no entry by then.',
    department String COMMENT 'Owning department from the service catalog as of detected_at; empty when unknown.',
    days_to_fix Nullable(Float64) COMMENT '(fixed_at - detected_at) in days when status is fixed, else null.',
    sla_due_at Nullable(DateTime) COMMENT 'Remediation due date: the sla_due_at the source sent, else detected_at + the transform''s SLA policy days of the severity (default critical 15, high 30, medium 90, low 180); null for info.',
    within_sla Nullable(UInt8) COMMENT 'fixed: 1 when fixed_at <= sla_due_at else 0; open: 0 once overdue as of the refresh as-of time, null while not yet due; dismissed: 0 when dismissed after sla_due_at (already overdue), null when dismissed in time; no SLA: null.',
    sla_cohort_month Nullable(Date) COMMENT 'Due-date cohort: first day of the month sla_due_at fell in, when within_sla is not null and sla_due_at <= the as-of time; null otherwise. SLA compliance of a period = avg(within_sla) over findings whose sla_cohort_month is in it.',
    reopened UInt8 COMMENT '1 when the finding has a security.finding.reopened event.',
    event_count UInt32 COMMENT 'Distinct events (source+id) of this finding.',
    first_event_time DateTime COMMENT 'Time of the earliest event of this finding.',
    last_event_time DateTime COMMENT 'Time of the event that gave the latest state.',
    last_event_type String COMMENT 'Lineage: type of the event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of the event that gave the latest state.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of the event that gave the latest state.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of the event that gave the latest state.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Open findings change most (fixes, SLA), so they share a partition; a
-- closed finding sits in the month of its last event, where it rarely
-- changes again.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY if(status = 'open', 0, toYYYYMM(last_event_time))
ORDER BY finding_id
