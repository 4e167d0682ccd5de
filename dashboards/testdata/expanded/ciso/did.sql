-- Difference-in-differences of win rates for each named process change
-- (impact transform --change NAME=DATE): deals that required a security
-- review against deals that did not, after minus before, account-clustered
-- interval; the placebo beside it runs the same comparison before the
-- change and should be near 0 if the trends were parallel.
SELECT
    dimension_value AS process_change,
    anyIf(estimate, metric = 'win_rate_did') AS did,
    anyIf(ci_low, metric = 'win_rate_did') AS did_ci_low,
    anyIf(ci_high, metric = 'win_rate_did') AS did_ci_high,
    anyIf(n, metric = 'win_rate_did') AS n_deals,
    anyIf(estimate, metric = 'win_rate_did_placebo') AS placebo_before_change,
    anyIf(ci_low, metric = 'win_rate_did_placebo') AS placebo_ci_low,
    anyIf(ci_high, metric = 'win_rate_did_placebo') AS placebo_ci_high,
    anyIf(evidence, metric = 'win_rate_did') AS evidence_level,
    anyIf(note, metric = 'win_rate_did') AS note
FROM impact_stats
WHERE metric IN ('win_rate_did', 'win_rate_did_placebo') AND dimension = 'change' AND period = 'all'
GROUP BY process_change
ORDER BY process_change
