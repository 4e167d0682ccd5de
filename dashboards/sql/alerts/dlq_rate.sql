-- Alert rule dlq_rate: the share of messages ingest rejected to the
-- dead-letter topic in the range, rejects / (stored events + rejects);
-- 0 below 5 rejects (a stray malformed event is no trend).
SELECT
    if(rejects >= 5, rejects / (events + rejects), 0) AS value
FROM
(
    SELECT
        (SELECT count() FROM ingest_rejects WHERE $__timeFilter(rejected_at)) AS rejects,
        (SELECT count() FROM events_raw WHERE $__timeFilter(ingested_at)) AS events
)
