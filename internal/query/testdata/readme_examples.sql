-- name: enterprise_win_rate_by_review_last_quarter
-- Win rate of enterprise deals by security-review turnaround in Q2 2026
-- (change the date to the first day of the quarter you want). The "slow" row
-- answers "win rate of enterprise deals with slow reviews last quarter".
SELECT
    review_bucket,
    count() AS closed_deals,
    sum(won) AS won_deals,
    round(avg(won), 3) AS win_rate
FROM deal_facts
WHERE segment = 'enterprise'
    AND toStartOfQuarter(closed_at) = toDate('2026-04-01')
GROUP BY review_bucket
ORDER BY review_bucket;

-- name: revenue_lost_to_security_by_quarter
-- Revenue lost to security reasons, by quarter the deal closed.
SELECT
    toStartOfQuarter(closed_at) AS quarter,
    count() AS deals_lost,
    sum(amount_usd) AS revenue_lost_usd
FROM deal_facts
WHERE outcome = 'lost' AND loss_reason = 'security'
GROUP BY quarter
ORDER BY quarter;

-- name: sla_compliance_by_team
-- Remediation SLA compliance by team: findings fixed within their SLA
-- against those fixed late or still open past it (findings not yet due
-- and dismissed ones do not count).
SELECT
    team,
    countIf(within_sla = 1) AS met,
    countIf(within_sla = 0) AS missed,
    round(met / (met + missed), 3) AS compliance
FROM findings
GROUP BY team
HAVING met + missed > 0
ORDER BY compliance, team;

-- name: csat_after_incidents_vs_baseline
-- CSAT of accounts hit by a security incident: tickets created within 30
-- days after an incident (after_incident_30d = 1) against the same
-- accounts' other tickets (their own baseline).
SELECT
    after_incident_30d,
    count() AS rated_tickets,
    round(avg(csat_score), 3) AS mean_csat,
    avg(csat_score) AS mean_csat_exact
FROM ticket_facts
WHERE isNotNull(csat_score)
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
GROUP BY after_incident_30d
ORDER BY after_incident_30d;
