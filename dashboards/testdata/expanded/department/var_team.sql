SELECT DISTINCT team FROM findings WHERE department = decodeURLComponent('Engineering') ORDER BY team
