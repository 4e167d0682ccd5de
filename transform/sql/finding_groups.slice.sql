INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}}
FROM {{.Source}}
WHERE department = @department
