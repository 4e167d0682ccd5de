CREATE DATABASE IF NOT EXISTS impact ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.schema_migrations ON CLUSTER impact_cluster
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/impact/schema_migrations', '{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS impact.schema_migrations_lock ON CLUSTER impact_cluster
(
    owner String,
    acquired_at DateTime,
    heartbeat_at DateTime,
    released UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/impact/schema_migrations_lock', '{replica}', heartbeat_at)
ORDER BY owner;

CREATE TABLE IF NOT EXISTS impact.events_raw_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.finding.opened',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    subject String COMMENT 'CloudEvents subject (the entity id by convention); empty when absent',
    entity_id String COMMENT 'Id of the entity the event carries the state of (finding_id, run_id, ...)',
    data_schema String COMMENT 'CloudEvents dataschema; empty means contract v1',
    payload String COMMENT 'The whole event as structured-mode CloudEvents JSON, unknown fields included',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/events_raw_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time) -- yearly: see 0002_typed_tables.sql
ORDER BY (event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.events_raw ON CLUSTER impact_cluster AS impact.events_raw_local
ENGINE = Distributed(impact_cluster, impact, events_raw_local, cityHash64(event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.finding_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.finding.opened',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    finding_id String COMMENT 'Finding id, stable for the life of the finding',
    scanner String COMMENT 'Tool or team that found it',
    category String COMMENT 'Kind of finding: sca|sast|dast|container|cloud|secret|pentest|other',
    title Nullable(String) COMMENT 'Short title',
    cve_id Nullable(String) COMMENT 'CVE id, e.g. CVE-2024-3094',
    cwe_id Nullable(String) COMMENT 'CWE id, e.g. CWE-79',
    severity String COMMENT 'Severity after triage: critical|high|medium|low|info',
    cvss Nullable(Float64) COMMENT 'CVSS base score, 0-10',
    epss Nullable(Float64) COMMENT 'EPSS probability, 0-1',
    kev Nullable(UInt8) COMMENT 'Listed in the CISA Known Exploited Vulnerabilities catalog (1/0)',
    service_id String COMMENT 'Service the finding is in (catalog id)',
    repo Nullable(String) COMMENT 'Source repository',
    status String COMMENT 'Current status: open|fixed|dismissed',
    detected_at DateTime COMMENT 'When the finding was first detected (UTC)',
    fixed_at Nullable(DateTime) COMMENT 'When it was fixed (UTC)',
    dismissed_at Nullable(DateTime) COMMENT 'When it was dismissed (UTC)',
    dismissed_reason Nullable(String) COMMENT 'Why it was dismissed',
    sla_due_at Nullable(DateTime) COMMENT 'Remediation due date; derived from detected_at and the SLA policy when absent (UTC)',
    internet_facing Nullable(UInt8) COMMENT 'The affected asset is reachable from the internet (1/0)',
    sla_policy_version String COMMENT 'SLA policy version sla_due_at was derived with; empty when the source sent it',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/finding_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (finding_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.finding_events ON CLUSTER impact_cluster AS impact.finding_events_local
ENGINE = Distributed(impact_cluster, impact, finding_events_local, cityHash64(finding_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.gate_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.gate.evaluated',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    run_id String COMMENT 'Pipeline run id',
    service_id String COMMENT 'Service the pipeline builds',
    commit_sha Nullable(String) COMMENT 'Commit evaluated',
    tool String COMMENT 'Gate tool',
    result String COMMENT 'Gate verdict: pass|fail|waived',
    blocking UInt8 COMMENT 'A failing result blocks the deployment (1/0)',
    findings_critical Nullable(Int64) COMMENT 'Critical findings counted by the gate',
    findings_high Nullable(Int64) COMMENT 'High findings counted by the gate',
    findings_medium Nullable(Int64) COMMENT 'Medium findings counted by the gate',
    findings_low Nullable(Int64) COMMENT 'Low findings counted by the gate',
    started_at DateTime COMMENT 'When the evaluation started (UTC)',
    completed_at DateTime COMMENT 'When the evaluation completed (UTC)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/gate_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (run_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.gate_events ON CLUSTER impact_cluster AS impact.gate_events_local
ENGINE = Distributed(impact_cluster, impact, gate_events_local, cityHash64(run_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.incident_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.incident.detected',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    incident_id String COMMENT 'Incident id',
    severity String COMMENT 'Incident severity: critical|high|medium|low',
    category String COMMENT 'Incident category, e.g. phishing, data_leak',
    status String COMMENT 'Current status: open|contained|resolved',
    affected_service_ids Array(String) COMMENT 'Services affected',
    affected_account_ids Array(String) COMMENT 'Customer accounts affected',
    contributing_departments Array(String) COMMENT 'Departments whose decisions contributed (post-incident review)',
    records_exposed Nullable(Int64) COMMENT 'Records exposed',
    customer_notified Nullable(UInt8) COMMENT 'Customers were notified (1/0)',
    cost_usd Nullable(Float64) COMMENT 'Total cost in USD',
    detected_at DateTime COMMENT 'When it was detected (UTC)',
    resolved_at Nullable(DateTime) COMMENT 'When it was resolved (UTC)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/incident_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (incident_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.incident_events ON CLUSTER impact_cluster AS impact.incident_events_local
ENGINE = Distributed(impact_cluster, impact, incident_events_local, cityHash64(incident_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.policy_exception_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.policy_exception.opened',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    exception_id String COMMENT 'Exception id',
    department String COMMENT 'Department working around policy',
    kind String COMMENT 'Kind of exception: unsanctioned_saas|regulated_data_sharing|tool_without_assessment|other',
    risk_tier String COMMENT 'Risk tier: critical|high|medium|low',
    description Nullable(String) COMMENT 'What happened',
    opened_at DateTime COMMENT 'When it was opened (UTC)',
    resolved_at Nullable(DateTime) COMMENT 'When it was resolved (UTC)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/policy_exception_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (exception_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.policy_exception_events ON CLUSTER impact_cluster AS impact.policy_exception_events_local
ENGINE = Distributed(impact_cluster, impact, policy_exception_events_local, cityHash64(exception_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.review_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.review.requested',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    review_id String COMMENT 'Review id',
    account_id String COMMENT 'Customer account',
    opportunity_id String COMMENT 'Opportunity (deal) the review belongs to',
    channel String COMMENT 'How the review was done: trust_center|questionnaire|call|redline',
    questionnaire Nullable(String) COMMENT 'Questionnaire name, e.g. SIG Lite, CAIQ',
    question_count Nullable(Int64) COMMENT 'Questions asked',
    auto_answered Nullable(Int64) COMMENT 'Questions answered automatically (trust center, answer library)',
    effort_hours Nullable(Float64) COMMENT 'Security team effort in hours',
    status String COMMENT 'Current status: requested|in_progress|completed',
    requested_at DateTime COMMENT 'When the customer requested it (UTC)',
    completed_at Nullable(DateTime) COMMENT 'When it was completed (UTC)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/review_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (review_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.review_events ON CLUSTER impact_cluster AS impact.review_events_local
ENGINE = Distributed(impact_cluster, impact, review_events_local, cityHash64(review_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.vendor_assessment_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. security.vendor_assessment.requested',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    assessment_id String COMMENT 'Assessment id',
    vendor_id String COMMENT 'Vendor id',
    vendor_name Nullable(String) COMMENT 'Vendor name',
    department String COMMENT 'Department requesting the vendor',
    risk_tier String COMMENT 'Risk tier: critical|high|medium|low',
    status String COMMENT 'Current status: requested|completed',
    decision Nullable(String) COMMENT 'Decision once completed: approved|approved_with_conditions|rejected',
    requested_at DateTime COMMENT 'When it was requested (UTC)',
    completed_at Nullable(DateTime) COMMENT 'When it was completed (UTC)',
    assessment_cost_usd Nullable(Float64) COMMENT 'Cost of the assessment in USD',
    annual_monitoring_cost_usd Nullable(Float64) COMMENT 'Yearly cost of monitoring the vendor in USD',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/vendor_assessment_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (assessment_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster AS impact.vendor_assessment_events_local
ENGINE = Distributed(impact_cluster, impact, vendor_assessment_events_local, cityHash64(assessment_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.deployment_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. deployment.started',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    deployment_id String COMMENT 'Deployment id',
    service_id String COMMENT 'Service deployed',
    environment String COMMENT 'Target environment, e.g. production',
    commit_sha Nullable(String) COMMENT 'Commit deployed',
    first_commit_at Nullable(DateTime) COMMENT 'Time of the oldest commit in the deployment (lead time start) (UTC)',
    started_at DateTime COMMENT 'When the deployment started (UTC)',
    finished_at Nullable(DateTime) COMMENT 'When it finished (UTC)',
    status String COMMENT 'Current status: in_progress|success|failure|rolled_back',
    trigger String COMMENT 'Why it was deployed: feature|hotfix|security_fix|rollback|config',
    security_gate_wait_seconds Nullable(Float64) COMMENT 'Seconds spent waiting on security gates',
    fixes_finding_ids Array(String) COMMENT 'Findings this deployment fixes',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/deployment_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (deployment_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.deployment_events ON CLUSTER impact_cluster AS impact.deployment_events_local
ENGINE = Distributed(impact_cluster, impact, deployment_events_local, cityHash64(deployment_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.opportunity_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. crm.opportunity.created',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    opportunity_id String COMMENT 'Opportunity id',
    account_id String COMMENT 'Customer account',
    account_name Nullable(String) COMMENT 'Account name',
    segment String COMMENT 'Customer segment: smb|mid_market|enterprise',
    region Nullable(String) COMMENT 'Sales region',
    industry Nullable(String) COMMENT 'Customer industry',
    deal_type String COMMENT 'Deal type: new|expansion|renewal',
    stage String COMMENT 'CRM stage name',
    amount_usd Float64 COMMENT 'Deal amount in USD',
    currency Nullable(String) COMMENT 'Original currency (ISO 4217)',
    amount Nullable(Float64) COMMENT 'Amount in the original currency',
    product Nullable(String) COMMENT 'Product sold',
    created_at DateTime COMMENT 'When the opportunity was created (UTC)',
    closed_at Nullable(DateTime) COMMENT 'When it closed (UTC)',
    outcome String COMMENT 'Outcome: open|won|lost|no_decision',
    loss_reason Nullable(String) COMMENT 'Why it was lost: price|product|competitor|security|timing|other',
    security_review_required UInt8 COMMENT 'The customer required a security review (1/0)',
    security_review_id Nullable(String) COMMENT 'The security review (review_id)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/opportunity_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (opportunity_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.opportunity_events ON CLUSTER impact_cluster AS impact.opportunity_events_local
ENGINE = Distributed(impact_cluster, impact, opportunity_events_local, cityHash64(opportunity_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.ticket_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. support.ticket.created',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    ticket_id String COMMENT 'Ticket id',
    account_id String COMMENT 'Customer account',
    status String COMMENT 'Current status: new|open|pending|solved|closed',
    priority String COMMENT 'Priority: low|normal|high|urgent',
    channel Nullable(String) COMMENT 'Channel, e.g. email, chat',
    tags Array(String) COMMENT 'Ticket tags',
    security_related UInt8 COMMENT 'The ticket is about security (1/0)',
    incident_id Nullable(String) COMMENT 'Related security incident',
    created_at DateTime COMMENT 'When the ticket was created (UTC)',
    first_reply_at Nullable(DateTime) COMMENT 'First agent reply (UTC)',
    solved_at Nullable(DateTime) COMMENT 'When it was solved (UTC)',
    csat_score Nullable(UInt8) COMMENT 'Customer satisfaction score, 1-5',
    csat_at Nullable(DateTime) COMMENT 'When the customer rated (UTC)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/ticket_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (ticket_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.ticket_events ON CLUSTER impact_cluster AS impact.ticket_events_local
ENGINE = Distributed(impact_cluster, impact, ticket_events_local, cityHash64(ticket_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.service_events_local ON CLUSTER impact_cluster
(
    event_source String COMMENT 'CloudEvents source; with event_id the event identity',
    event_id String COMMENT 'CloudEvents id',
    event_type String COMMENT 'CloudEvents type, e.g. catalog.service.upserted',
    event_time DateTime COMMENT 'CloudEvents time (UTC): when the change happened',
    service_id String COMMENT 'Service id',
    service_name Nullable(String) COMMENT 'Service name',
    team String COMMENT 'Owning team',
    department String COMMENT 'Owning department',
    product Nullable(String) COMMENT 'Product the service belongs to',
    tier String COMMENT 'Business criticality tier: critical|high|medium|low',
    internet_facing UInt8 COMMENT 'Reachable from the internet (1/0)',
    effective_at DateTime COMMENT 'When this catalog state took effect (UTC)',
    kafka_topic String COMMENT 'Lineage: Kafka topic',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    ingested_at DateTime COMMENT 'When impact ingest wrote the row (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/service_events_local', '{replica}', ingested_at)
PARTITION BY toYear(event_time)
ORDER BY (service_id, event_source, event_id);

CREATE TABLE IF NOT EXISTS impact.service_events ON CLUSTER impact_cluster AS impact.service_events_local
ENGINE = Distributed(impact_cluster, impact, service_events_local, cityHash64(service_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.ingest_rejects_local ON CLUSTER impact_cluster
(
    kafka_topic String COMMENT 'Lineage: Kafka topic of the rejected message',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset',
    rejected_at DateTime COMMENT 'When ingest rejected it (UTC)',
    field String COMMENT 'Field path that broke the contract, e.g. data.severity; empty for the message as a whole',
    rule String COMMENT 'Rule broken: required, type, enum, format, size, utf8, json, unknown_type, ...',
    detail String COMMENT 'Human-readable reason',
    event_source String COMMENT 'CloudEvents source when it could be read; else empty',
    event_id String COMMENT 'CloudEvents id when it could be read; else empty',
    event_type String COMMENT 'CloudEvents type when it could be read; else empty',
    payload_prefix String COMMENT 'First bytes of the message value, for diagnosis'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/ingest_rejects_local', '{replica}', rejected_at)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS impact.ingest_rejects ON CLUSTER impact_cluster AS impact.ingest_rejects_local
ENGINE = Distributed(impact_cluster, impact, ingest_rejects_local, cityHash64(kafka_topic, kafka_partition, kafka_offset));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.finding_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.finding_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.finding_events ON CLUSTER impact_cluster AS impact.finding_events_local
ENGINE = Distributed(impact_cluster, impact, finding_events_local, cityHash64(finding_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.finding_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.finding_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.finding_events ON CLUSTER impact_cluster AS impact.finding_events_local
ENGINE = Distributed(impact_cluster, impact, finding_events_local, cityHash64(finding_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.gate_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.gate_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.gate_events ON CLUSTER impact_cluster AS impact.gate_events_local
ENGINE = Distributed(impact_cluster, impact, gate_events_local, cityHash64(run_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.gate_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.gate_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.gate_events ON CLUSTER impact_cluster AS impact.gate_events_local
ENGINE = Distributed(impact_cluster, impact, gate_events_local, cityHash64(run_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.incident_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.incident_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.incident_events ON CLUSTER impact_cluster AS impact.incident_events_local
ENGINE = Distributed(impact_cluster, impact, incident_events_local, cityHash64(incident_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.incident_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.incident_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.incident_events ON CLUSTER impact_cluster AS impact.incident_events_local
ENGINE = Distributed(impact_cluster, impact, incident_events_local, cityHash64(incident_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.policy_exception_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.policy_exception_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.policy_exception_events ON CLUSTER impact_cluster AS impact.policy_exception_events_local
ENGINE = Distributed(impact_cluster, impact, policy_exception_events_local, cityHash64(exception_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.policy_exception_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.policy_exception_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.policy_exception_events ON CLUSTER impact_cluster AS impact.policy_exception_events_local
ENGINE = Distributed(impact_cluster, impact, policy_exception_events_local, cityHash64(exception_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.review_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.review_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.review_events ON CLUSTER impact_cluster AS impact.review_events_local
ENGINE = Distributed(impact_cluster, impact, review_events_local, cityHash64(review_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.review_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.review_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.review_events ON CLUSTER impact_cluster AS impact.review_events_local
ENGINE = Distributed(impact_cluster, impact, review_events_local, cityHash64(review_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.vendor_assessment_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster AS impact.vendor_assessment_events_local
ENGINE = Distributed(impact_cluster, impact, vendor_assessment_events_local, cityHash64(assessment_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.vendor_assessment_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster AS impact.vendor_assessment_events_local
ENGINE = Distributed(impact_cluster, impact, vendor_assessment_events_local, cityHash64(assessment_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.deployment_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.deployment_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.deployment_events ON CLUSTER impact_cluster AS impact.deployment_events_local
ENGINE = Distributed(impact_cluster, impact, deployment_events_local, cityHash64(deployment_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.deployment_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.deployment_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.deployment_events ON CLUSTER impact_cluster AS impact.deployment_events_local
ENGINE = Distributed(impact_cluster, impact, deployment_events_local, cityHash64(deployment_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.opportunity_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.opportunity_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.opportunity_events ON CLUSTER impact_cluster AS impact.opportunity_events_local
ENGINE = Distributed(impact_cluster, impact, opportunity_events_local, cityHash64(opportunity_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.opportunity_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.opportunity_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.opportunity_events ON CLUSTER impact_cluster AS impact.opportunity_events_local
ENGINE = Distributed(impact_cluster, impact, opportunity_events_local, cityHash64(opportunity_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.ticket_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.ticket_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.ticket_events ON CLUSTER impact_cluster AS impact.ticket_events_local
ENGINE = Distributed(impact_cluster, impact, ticket_events_local, cityHash64(ticket_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.ticket_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.ticket_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.ticket_events ON CLUSTER impact_cluster AS impact.ticket_events_local
ENGINE = Distributed(impact_cluster, impact, ticket_events_local, cityHash64(ticket_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.service_events_local ADD COLUMN inserted_at DateTime MATERIALIZED now();

DROP TABLE IF EXISTS impact.service_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.service_events ON CLUSTER impact_cluster AS impact.service_events_local
ENGINE = Distributed(impact_cluster, impact, service_events_local, cityHash64(service_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.service_events_local COMMENT COLUMN inserted_at 'When the server wrote the row (UTC, server clock), set by ClickHouse: the transform watermark reads it';

DROP TABLE IF EXISTS impact.service_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.service_events ON CLUSTER impact_cluster AS impact.service_events_local
ENGINE = Distributed(impact_cluster, impact, service_events_local, cityHash64(service_id, event_source, event_id));

CREATE TABLE IF NOT EXISTS impact.ingest_progress_local ON CLUSTER impact_cluster
(
    consumer_group String COMMENT 'Kafka consumer group of the ingester',
    kafka_topic String COMMENT 'Source topic',
    kafka_partition Int32 COMMENT 'Source partition',
    member String COMMENT 'Group member id of the ingester that reported',
    committed_offset Int64 COMMENT 'Offset the member last committed (or started reading at); -1 when unknown',
    high_watermark Int64 COMMENT 'High watermark seen by its last fetch; -1 when unknown',
    lag Int64 COMMENT 'Messages past the committed offset: high_watermark - committed_offset',
    progress_at DateTime COMMENT 'When the partition last made progress (its commit advanced, or lag began) (UTC)',
    reported_at DateTime COMMENT 'When this report was written (UTC)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/impact/ingest_progress_local', '{replica}', reported_at)
ORDER BY (consumer_group, kafka_topic, kafka_partition);

CREATE TABLE IF NOT EXISTS impact.ingest_progress ON CLUSTER impact_cluster AS impact.ingest_progress_local
ENGINE = Distributed(impact_cluster, impact, ingest_progress_local, cityHash64(consumer_group, kafka_topic, kafka_partition));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.finding_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.finding_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.finding_events ON CLUSTER impact_cluster AS impact.finding_events_local
ENGINE = Distributed(impact_cluster, impact, finding_events_local, cityHash64(finding_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.gate_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.gate_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.gate_events ON CLUSTER impact_cluster AS impact.gate_events_local
ENGINE = Distributed(impact_cluster, impact, gate_events_local, cityHash64(run_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.incident_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.incident_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.incident_events ON CLUSTER impact_cluster AS impact.incident_events_local
ENGINE = Distributed(impact_cluster, impact, incident_events_local, cityHash64(incident_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.policy_exception_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.policy_exception_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.policy_exception_events ON CLUSTER impact_cluster AS impact.policy_exception_events_local
ENGINE = Distributed(impact_cluster, impact, policy_exception_events_local, cityHash64(exception_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.review_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.review_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.review_events ON CLUSTER impact_cluster AS impact.review_events_local
ENGINE = Distributed(impact_cluster, impact, review_events_local, cityHash64(review_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.vendor_assessment_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.vendor_assessment_events ON CLUSTER impact_cluster AS impact.vendor_assessment_events_local
ENGINE = Distributed(impact_cluster, impact, vendor_assessment_events_local, cityHash64(assessment_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.deployment_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.deployment_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.deployment_events ON CLUSTER impact_cluster AS impact.deployment_events_local
ENGINE = Distributed(impact_cluster, impact, deployment_events_local, cityHash64(deployment_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.opportunity_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.opportunity_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.opportunity_events ON CLUSTER impact_cluster AS impact.opportunity_events_local
ENGINE = Distributed(impact_cluster, impact, opportunity_events_local, cityHash64(opportunity_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.ticket_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.ticket_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.ticket_events ON CLUSTER impact_cluster AS impact.ticket_events_local
ENGINE = Distributed(impact_cluster, impact, ticket_events_local, cityHash64(ticket_id, event_source, event_id));

-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)
ALTER TABLE impact.service_events_local MODIFY COLUMN inserted_at DateTime DEFAULT now();

DROP TABLE IF EXISTS impact.service_events ON CLUSTER impact_cluster;

CREATE TABLE IF NOT EXISTS impact.service_events ON CLUSTER impact_cluster AS impact.service_events_local
ENGINE = Distributed(impact_cluster, impact, service_events_local, cityHash64(service_id, event_source, event_id));
