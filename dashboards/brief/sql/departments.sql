-- Every department the scorecard has rows for: a department's one-page
-- brief refuses any other name (a typo would give an empty page).
SELECT DISTINCT department
FROM department_scorecard
WHERE department != ''
ORDER BY department
