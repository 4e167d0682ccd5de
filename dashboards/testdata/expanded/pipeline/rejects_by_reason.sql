SELECT
    rule,
    field,
    count() AS rejects,
    max(rejected_at) AS last_rejected_at,
    any(detail) AS example_detail
FROM ingest_rejects FINAL
WHERE rejected_at >= toDateTime(1767225600) AND rejected_at <= toDateTime(1782864000)
GROUP BY rule, field
ORDER BY rejects DESC, rule, field
