SELECT DISTINCT team FROM findings WHERE department = decodeURLComponent('${department:percentencode}') ORDER BY team
