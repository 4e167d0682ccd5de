SELECT
    rule,
    field,
    count() AS rejects,
    max(rejected_at) AS last_rejected_at,
    any(detail) AS example_detail
FROM ingest_rejects FINAL
WHERE $__timeFilter(rejected_at)
GROUP BY rule, field
ORDER BY rejects DESC, rule, field
