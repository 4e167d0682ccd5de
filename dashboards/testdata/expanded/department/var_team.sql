SELECT DISTINCT team FROM findings WHERE department = 'Engineering' ORDER BY team
