CREATE TABLE IF NOT EXISTS {{.Table}} (
    opportunity_id String COMMENT 'Opportunity id (entity id of crm.opportunity.* events).',
    account_id String COMMENT 'Customer account.',
    account_name Nullable(String) COMMENT 'Account name, when sent.',
    segment String COMMENT 'smb, mid_market or enterprise.',
    region Nullable(String) COMMENT 'Sales region, when sent.',
    industry Nullable(String) COMMENT 'Customer industry, when sent.',
    deal_type String COMMENT 'new, expansion or renewal.',
    stage String COMMENT 'CRM stage of the final state.',
    amount_usd Float64 COMMENT 'Deal amount in USD.',
    created_at DateTime COMMENT 'When the opportunity was created.',
    closed_at DateTime COMMENT 'When it closed (the event''s closed_at; the closing event''s time when absent).',
    cycle_days Float64 COMMENT 'Sales cycle: (closed_at - created_at) in days.',
    outcome String COMMENT 'won, lost or no_decision (only closed deals are rows).',
    won UInt8 COMMENT '1 when outcome is won; win rate = avg(won) (no_decision counts as not won).',
    loss_reason Nullable(String) COMMENT 'price, product, competitor, security, timing or other, when lost and sent.',
    review_required UInt8 COMMENT '1 when the deal required a customer security review (security_review_required).',
    review_id Nullable(String) COMMENT 'The review named by the opportunity''s security_review_id.',
    review_channel Nullable(String) COMMENT 'trust_center, questionnaire, call or redline, of that review (latest state).',
    review_requested_at Nullable(DateTime) COMMENT 'When the review was requested.',
    review_completed_at Nullable(DateTime) COMMENT 'When the review completed; null while not completed.',
    review_effort_hours Nullable(Float64) COMMENT 'Effort spent on the review, when sent.',
    review_turnaround_days Nullable(Float64) COMMENT '(review completed_at - requested_at) in days, when the review completed.',
    review_bucket String COMMENT 'none (no review required), fast (<= 5 days), medium (> 5 and <= 15), slow (> 15), incomplete (required but no completed review with completed_at <= closed_at).',
    landmark_bucket String COMMENT 'The review bucket by what was known 15 days after the review request (the landmark), the one every win-rate figure uses: none (no review required), fast (completed within 5 days and by the close), medium (within 15 days and by the close), slow (still pending 15 days after the request while the deal was open, whether it completed later or never), incomplete (closed before the landmark without a completed review, or no review record).',
    last_event_time DateTime COMMENT 'Time of the opportunity event that gave the latest state.',
    last_event_source String COMMENT 'Lineage: CloudEvents source of that event.',
    last_event_id String COMMENT 'Lineage: CloudEvents id of that event.',
    kafka_topic String COMMENT 'Lineage: Kafka topic of that event.',
    kafka_partition Int32 COMMENT 'Lineage: Kafka partition of that event.',
    kafka_offset Int64 COMMENT 'Lineage: Kafka offset of that event.'
) ENGINE = MergeTree
-- Every row is a closed deal, in the month it closed: new closes land in
-- the latest months.
-- An incremental refresh rebuilds only the partitions holding a changed
-- entity (before or after the change): see transform/refresh.go.
PARTITION BY toYYYYMM(closed_at)
ORDER BY opportunity_id
