CREATE TABLE IF NOT EXISTS {{.Table}} (
    ticket_id String COMMENT 'Support ticket id (entity id of support.ticket.* events).',
    account_id String COMMENT 'Customer account of the ticket.',
    status String COMMENT 'new, open, pending, solved or closed (latest state).',
    priority String COMMENT 'low, normal, high or urgent.',
    channel Nullable(String) COMMENT 'Support channel, when sent.',
    tags Array(String) COMMENT 'Ticket tags, as sent.',
    security_related UInt8 COMMENT '1 when the ticket is about security.',
    incident_id Nullable(String) COMMENT 'Incident the ticket refers to, when sent.',
    created_at DateTime COMMENT 'When the ticket was created.',
    first_reply_at Nullable(DateTime) COMMENT 'First agent reply, when sent.',
    solved_at Nullable(DateTime) COMMENT 'When it was solved; null while unsolved.',
    csat_score Nullable(UInt8) COMMENT 'Customer satisfaction rating 1-5 of the latest state; null when not rated.',
    csat_at Nullable(DateTime) COMMENT 'When it was rated.',
    after_incident_30d UInt8 COMMENT '1 when a security incident (latest state) listing this account in affected_account_ids was detected in the 30 days up to the ticket''s creation: created_at - 30 days <= detected_at <= created_at.',
    incidents_30d UInt32 COMMENT 'How many such incidents.',
    last_event_time DateTime COMMENT 'Time of the ticket event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of that event.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of that event.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Unsolved tickets change most, so they share a partition; a solved or
-- closed ticket sits in the month of its last event.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY if(status IN ('solved', 'closed'), toYYYYMM(last_event_time), 0)
ORDER BY ticket_id
