-- Deals to recompute: new or changed opportunity events, and the closed
-- deals (rows of the live table) whose review changed. A deal's row reads
-- only the review its latest event names (review_id); a deal that is not
-- closed has no row, and gets one only through an event of its own.
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deal_facts', opportunity_id FROM opportunity_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
INSERT INTO transform_keys (model, key)
SELECT 'deal_facts', opportunity_id FROM deal_facts
WHERE review_id {{.In}} (SELECT review_id FROM review_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
