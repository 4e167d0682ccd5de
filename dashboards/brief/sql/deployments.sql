-- Deployments started in the period with a lead time, and whether a
-- failing blocking gate held their commit.
SELECT gate_blocked, assumeNotNull(lead_time_hours) AS lead_time_hours
FROM deployment_facts
WHERE started_at >= toDateTime(@from) AND started_at < toDateTime(@to)
    AND isNotNull(lead_time_hours)
ORDER BY deployment_id
