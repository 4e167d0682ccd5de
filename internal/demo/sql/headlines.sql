-- The whole-window figures of the latest transform run that the demo
-- prints as its headline findings.
SELECT metric, dimension, dimension_value, n, estimate, ci_low, ci_high, unit, method, evidence
FROM impact_stats
WHERE (metric = 'win_rate_diff_fast_minus_slow' AND dimension IN ('stratified', 'all'))
    OR (metric = 'revenue_lost_security_usd' AND dimension = 'all')
    OR (metric = 'csat_incident_drop' AND dimension = 'paired')
    OR (metric = 'gate_delay_hours' AND dimension = 'all')
    OR (metric = 'win_rate' AND dimension = 'review_bucket')
    OR (metric = 'cost_of_risk_usd' AND dimension = 'department')
ORDER BY metric, dimension, dimension_value
