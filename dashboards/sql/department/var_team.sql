SELECT DISTINCT team FROM findings WHERE department = '${department}' ORDER BY team
