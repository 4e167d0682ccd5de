-- Mean CSAT of rated tickets by group, normal 95% interval of the mean.
SELECT
    if(after_incident_30d = 1, 'within 30 days after incident', 'no recent incident') AS incident_window,
    if(security_related = 1, 'security-related', 'other') AS ticket_kind,
    count() AS rated_tickets,
    avg(score) AS mean_csat,
    mean_csat - 1.96 * stddevSamp(score) / sqrt(rated_tickets) AS ci_low,
    mean_csat + 1.96 * stddevSamp(score) / sqrt(rated_tickets) AS ci_high
FROM
(
    SELECT
        after_incident_30d,
        security_related,
        toFloat64(assumeNotNull(csat_score)) AS score
    FROM ticket_facts
    WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000) AND isNotNull(csat_score)
)
GROUP BY incident_window, ticket_kind
ORDER BY incident_window, ticket_kind
