-- One department's changes finished in the period (dora_changes): whether
-- a gate blocked each, whether it failed, its lead time.
SELECT gate_blocked, change_failure, lead_time_hours
FROM dora_changes
WHERE department = @department
    AND finished_at >= toDateTime(@from) AND finished_at < toDateTime(@to)
ORDER BY deployment_id
