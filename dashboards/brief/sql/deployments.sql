-- Deployments started in the period with a lead time, and whether a
-- failing blocking gate held their commit. A negative lead time (first commit
-- stamped after the deployment finished: clock skew) is left out. The alias
-- differs from the column: ClickHouse resolves aliases in WHERE.
SELECT gate_blocked, assumeNotNull(lead_time_hours) AS lead_hours
FROM deployment_facts
WHERE started_at >= toDateTime(@from) AND started_at < toDateTime(@to)
    AND isNotNull(lead_time_hours) AND lead_time_hours >= 0
ORDER BY deployment_id
