SELECT DISTINCT department FROM department_scorecard WHERE department != '(unassigned)' ORDER BY department
