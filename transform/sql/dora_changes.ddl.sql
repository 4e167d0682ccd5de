CREATE TABLE IF NOT EXISTS {{.Table}} (
    deployment_id String COMMENT 'The change: a production deployment that succeeded (finished_at set), any trigger but rollback.',
    service_id String COMMENT 'Deployed service.',
    team String COMMENT 'Owning team from the service catalog as of started_at; empty when unknown.',
    department String COMMENT 'Owning department from the service catalog as of started_at; empty when unknown.',
    trigger String COMMENT 'feature, hotfix, security_fix or config.',
    started_at DateTime COMMENT 'When the deployment started.',
    finished_at DateTime COMMENT 'When it finished (deployment frequency counts changes by finished_at).',
    lead_time_hours Nullable(Float64) COMMENT 'Lead time for changes: (finished_at - first_commit_at) in hours; null without first_commit_at.',
    gate_blocked UInt8 COMMENT '1 when a blocking security gate failed for the same service and commit (the security lens of every DORA figure).',
    gate_waived UInt8 COMMENT '1 when a blocking gate for the same service and commit was waived.',
    change_failure UInt8 COMMENT '1 when a failure signal marks this change: a production rollback or hotfix deployment of the same service (at its started_at) or a security incident affecting the service (at its detected_at), within the failure window after finished_at and before any later change of the service finished (a signal marks the latest change before it).',
    failure_signal String COMMENT 'rollback, hotfix or incident: the first signal marking the change; empty when none.',
    failure_signal_id String COMMENT 'deployment_id or incident_id of that signal; empty when none.',
    failure_at Nullable(DateTime) COMMENT 'Time of that signal.',
    restored_at Nullable(DateTime) COMMENT 'Service restored: finished_at of the signalling rollback or hotfix when it succeeded, resolved_at of the signalling incident when resolved; null otherwise.',
    restore_hours Nullable(Float64) COMMENT 'Time to restore: (restored_at - finished_at) in hours.',
    security_fix_lead_hours Nullable(Float64) COMMENT 'For security_fix changes: finished_at - the earliest detected_at of the findings it fixes (fixes_finding_ids), in hours.',
    security_fix_finding_lead_hours Array(Float64) COMMENT 'For security_fix changes: finished_at - detected_at of each finding it fixes (each element of fixes_finding_ids that has a row in findings), in hours, in ascending order; empty for other changes. impact_stats security_fix_lead_time_hours is the median of all of them.',
    failure_window_seconds UInt32 COMMENT 'The failure window the row was built with (transform Options.DORAWindow).',
    last_event_source String COMMENT 'Lineage: CloudEvents source of the deployment event that gave the latest state.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.'
) ENGINE = MergeTree
-- New changes and signals land in the latest month: an incremental refresh
-- rebuilds the months holding a changed row (transform/refresh.go).
PARTITION BY toYYYYMM(finished_at)
ORDER BY (service_id, finished_at, deployment_id)
