-- The earliest deal close, ticket and deployment start: impact report
-- --every writes the periods from there on.
SELECT toInt64(min(t)) AS first, count() AS n
FROM
(
    SELECT closed_at AS t FROM deal_facts
    UNION ALL
    SELECT created_at AS t FROM ticket_facts
    UNION ALL
    SELECT started_at AS t FROM deployment_facts
)
