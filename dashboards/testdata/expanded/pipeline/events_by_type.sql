SELECT
    event_source,
    event_type,
    count() AS events,
    uniqExact(event_id) AS distinct_events
FROM events_raw
WHERE ingested_at >= toDateTime(1767225600) AND ingested_at <= toDateTime(1782864000)
GROUP BY event_source, event_type
ORDER BY events DESC, event_source, event_type
