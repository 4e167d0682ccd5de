-- Mean weekly CSAT of tickets within 30 days after an incident and of the
-- rest, with the rated tickets behind each; weeks below the minimum n
-- impact_stats applies (min_n) are gaps, not points.
SELECT
    time,
    if(n_after_incident >= min_n, mean_after, NULL) AS after_incident,
    if(n_baseline >= min_n, mean_base, NULL) AS baseline,
    n_after_incident,
    n_baseline
FROM
(
    SELECT
        toDateTime(toMonday(created_at)) AS time,
        avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 1) AS mean_after,
        avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 0) AS mean_base,
        countIf(after_incident_30d = 1) AS n_after_incident,
        countIf(after_incident_30d = 0) AS n_baseline,
        (SELECT max(min_n) FROM impact_stats) AS min_n
    FROM ticket_facts
    WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000) AND isNotNull(csat_score)
    GROUP BY time
)
ORDER BY time
