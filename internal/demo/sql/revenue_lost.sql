-- Revenue of deals lost for security reasons over the whole window.
SELECT count() AS n, sum(amount_usd) AS usd FROM deal_facts WHERE outcome = 'lost' AND loss_reason = 'security'
