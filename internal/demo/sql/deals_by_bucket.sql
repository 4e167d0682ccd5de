-- Closed deals and wins per review bucket over the whole window.
SELECT review_bucket, count() AS n, sum(won) AS won FROM deal_facts GROUP BY review_bucket ORDER BY review_bucket
