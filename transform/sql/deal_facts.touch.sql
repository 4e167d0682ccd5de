-- Deals to recompute: new or changed opportunity events, and deals whose
-- review (named by security_review_id, or by the review's opportunity_id)
-- changed.
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deal_facts', opportunity_id FROM opportunity_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deal_facts', opportunity_id FROM review_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until);
INSERT INTO transform_keys (model, key)
SELECT DISTINCT 'deal_facts', opportunity_id FROM opportunity_events
WHERE security_review_id GLOBAL IN (SELECT review_id FROM review_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until))
