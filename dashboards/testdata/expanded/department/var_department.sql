SELECT DISTINCT department FROM department_scorecard ORDER BY department
