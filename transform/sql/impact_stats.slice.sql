-- A department's own figures: those broken down by department for it, and
-- those broken down by team for the teams that own its findings or
-- deployments. Company-wide figures (dimension all, segment, review
-- bucket, ...) pool every department and stay in the CISO's view.
INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}}
FROM {{.Source}}
WHERE (dimension = 'department' AND dimension_value = @department)
    OR (dimension = 'team' AND dimension_value IN
    (
        SELECT team FROM {{.Database}}.findings WHERE department = @department AND team != ''
        UNION ALL
        SELECT team FROM {{.Database}}.deployment_facts WHERE department = @department AND team != ''
    ))
