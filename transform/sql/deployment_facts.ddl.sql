CREATE TABLE IF NOT EXISTS {{.Table}} (
    deployment_id String COMMENT 'Deployment id (entity id of deployment.* events).',
    service_id String COMMENT 'Deployed service (catalog service_id).',
    team String COMMENT 'Owning team from the service catalog as of started_at; empty when unknown.',
    department String COMMENT 'Owning department from the service catalog as of started_at; empty when unknown.',
    environment String COMMENT 'Target environment.',
    commit_sha Nullable(String) COMMENT 'Deployed commit, when sent.',
    trigger String COMMENT 'feature, hotfix, security_fix, rollback or config.',
    started_at DateTime COMMENT 'When the deployment started.',
    finished_at Nullable(DateTime) COMMENT 'When it finished; null while in progress.',
    status String COMMENT 'in_progress, success, failure or rolled_back (latest state).',
    first_commit_at Nullable(DateTime) COMMENT 'Time of the first commit in the deployment, when sent.',
    lead_time_hours Nullable(Float64) COMMENT '(finished_at - first_commit_at) in hours; null unless both are set.',
    gate_blocked UInt8 COMMENT '1 when a gate run (latest state) for the same service_id and commit_sha has result fail and blocking = 1. Deployments without commit_sha cannot be matched to a gate and are 0.',
    gate_waived UInt8 COMMENT '1 when a blocking gate run for the same service_id and commit_sha was waived.',
    gate_runs UInt32 COMMENT 'Gate runs (distinct run_id) for the same service_id and commit_sha.',
    gate_wait_hours Nullable(Float64) COMMENT 'security_gate_wait_seconds / 3600, when sent.',
    fixes_finding_ids Array(String) COMMENT 'Findings this deployment fixes, as sent.',
    last_event_time DateTime COMMENT 'Time of the deployment event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of that event.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of that event.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Running deployments share a partition; a finished one sits in the
-- month of its last event.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY if(status = 'in_progress', 0, toYYYYMM(last_event_time))
ORDER BY deployment_id
