-- The whole-window figures (period all) of the latest transform run that
-- the demo prints as its headline findings: the same rows the dashboards
-- show for a range covering all data and the brief for the whole window.
SELECT metric, dimension, dimension_value, n, estimate, ci_low, ci_high, unit, method, evidence,
    naive_ci_low, naive_ci_high, cluster, mde, period, note
FROM impact_stats
WHERE period = 'all' AND (
    (metric = 'win_rate_diff_fast_minus_slow' AND dimension IN ('stratified', 'all'))
    OR (metric = 'revenue_lost_security_usd' AND dimension = 'all')
    OR (metric = 'revenue_associated_slow_reviews_usd' AND dimension = 'stratified')
    OR (metric = 'csat_incident_drop' AND dimension = 'paired')
    OR (metric = 'gate_delay_hours' AND dimension = 'all')
    OR (metric = 'win_rate' AND dimension = 'review_bucket')
    OR (metric IN ('cost_of_risk_usd', 'incident_cost_usd', 'control_spend_usd') AND dimension = 'department'))
ORDER BY metric, dimension, dimension_value
