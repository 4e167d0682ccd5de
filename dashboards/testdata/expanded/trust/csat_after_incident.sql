-- Per account: mean CSAT of tickets created within 30 days after a security
-- incident affecting it minus the mean of its other rated tickets (its own
-- baseline); accounts with both kinds of rated tickets; normal 95% interval
-- of the mean paired difference.
SELECT
    avg(diff) AS difference,
    difference - 1.96 * stddevSamp(diff) / sqrt(count()) AS ci_low,
    difference + 1.96 * stddevSamp(diff) / sqrt(count()) AS ci_high,
    count() AS accounts
FROM
(
    SELECT
        account_id,
        avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 1) - avgIf(toFloat64(assumeNotNull(csat_score)), after_incident_30d = 0) AS diff
    FROM ticket_facts
    WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000) AND isNotNull(csat_score)
    GROUP BY account_id
    HAVING countIf(after_incident_30d = 1) > 0 AND countIf(after_incident_30d = 0) > 0
)
