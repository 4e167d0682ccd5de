-- inserted_at becomes DEFAULT now() instead of MATERIALIZED now() (0004).
-- On a cluster of ClickHouse 18.16 an INSERT into a Distributed table
-- forwards MATERIALIZED columns to the shards, which refuse them ("Cannot
-- insert column inserted_at, because it is MATERIALIZED column"), so no
-- write through the Distributed tables would succeed. With DEFAULT the
-- server that receives the INSERT stamps the row and the shards store
-- that value. Writers must not send the column (ingest and the bulk
-- loader name their columns; inserted_at is not among them): the
-- transform's watermark relies on the server's stamp.
ALTER TABLE finding_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE gate_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE incident_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE policy_exception_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE review_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE vendor_assessment_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE deployment_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE opportunity_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE ticket_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
ALTER TABLE service_events MODIFY COLUMN inserted_at DateTime DEFAULT now();
