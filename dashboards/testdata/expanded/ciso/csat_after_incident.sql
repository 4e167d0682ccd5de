-- Mean CSAT of rated tickets created within 30 days after an incident that
-- affected the account, minus the mean of the other rated tickets of accounts
-- some incident affected (their own baseline); Welch normal 95% interval.
SELECT
    mean_after_incident - mean_baseline AS difference,
    difference - 1.96 * sqrt(var_after / n_after_incident + var_baseline / n_baseline) AS ci_low,
    difference + 1.96 * sqrt(var_after / n_after_incident + var_baseline / n_baseline) AS ci_high,
    mean_after_incident,
    mean_baseline,
    n_after_incident,
    n_baseline
FROM
(
    SELECT
        avgIf(score, after_incident_30d = 1) AS mean_after_incident,
        varSampIf(score, after_incident_30d = 1) AS var_after,
        countIf(after_incident_30d = 1) AS n_after_incident,
        avgIf(score, after_incident_30d = 0) AS mean_baseline,
        varSampIf(score, after_incident_30d = 0) AS var_baseline,
        countIf(after_incident_30d = 0) AS n_baseline
    FROM
    (
        SELECT
            toFloat64(assumeNotNull(csat_score)) AS score,
            after_incident_30d
        FROM ticket_facts
        WHERE created_at >= toDateTime(1767225600) AND created_at <= toDateTime(1782864000)
            AND isNotNull(csat_score)
            AND account_id IN
            (
                SELECT arrayJoin(accounts)
                FROM
                (
                    SELECT argMax(affected_account_ids, event_time) AS accounts
                    FROM incident_events
                    GROUP BY incident_id
                )
            )
    )
)
