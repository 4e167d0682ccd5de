-- Win rate of deals whose security review finished fast (<= 5 days) minus
-- slow (> 15 days), Wilson 95% bounds per bucket, Newcombe hybrid score
-- interval for the difference.
SELECT
    p_fast - p_slow AS difference,
    difference - sqrt(pow(p_fast - l_fast, 2) + pow(u_slow - p_slow, 2)) AS ci_low,
    difference + sqrt(pow(u_fast - p_fast, 2) + pow(p_slow - l_slow, 2)) AS ci_high,
    n_fast,
    n_slow
FROM
(
    SELECT
        n_fast,
        n_slow,
        p_fast,
        p_slow,
        (p_fast + 1.9208 / n_fast - 1.96 * sqrt(p_fast * (1 - p_fast) / n_fast + 0.9604 / (n_fast * n_fast))) / (1 + 3.8416 / n_fast) AS l_fast,
        (p_fast + 1.9208 / n_fast + 1.96 * sqrt(p_fast * (1 - p_fast) / n_fast + 0.9604 / (n_fast * n_fast))) / (1 + 3.8416 / n_fast) AS u_fast,
        (p_slow + 1.9208 / n_slow - 1.96 * sqrt(p_slow * (1 - p_slow) / n_slow + 0.9604 / (n_slow * n_slow))) / (1 + 3.8416 / n_slow) AS l_slow,
        (p_slow + 1.9208 / n_slow + 1.96 * sqrt(p_slow * (1 - p_slow) / n_slow + 0.9604 / (n_slow * n_slow))) / (1 + 3.8416 / n_slow) AS u_slow
    FROM
    (
        SELECT
            countIf(review_bucket = 'fast') AS n_fast,
            countIf(review_bucket = 'slow') AS n_slow,
            sumIf(won, review_bucket = 'fast') / n_fast AS p_fast,
            sumIf(won, review_bucket = 'slow') / n_slow AS p_slow
        FROM deal_facts
        WHERE closed_at >= toDateTime(1767225600) AND closed_at <= toDateTime(1782864000)
    )
)
