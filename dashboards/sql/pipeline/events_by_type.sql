SELECT
    event_source,
    event_type,
    count() AS events,
    uniqExact(event_id) AS distinct_events
FROM events_raw
WHERE $__timeFilter(ingested_at)
GROUP BY event_source, event_type
ORDER BY events DESC, event_source, event_type
