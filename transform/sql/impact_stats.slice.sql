-- A department's own figures: those broken down by department for it
-- (department, department/severity), and those broken down by team for the
-- teams that own its findings or deployments (team, team/severity).
-- Company-wide figures (dimension all, segment, review bucket, ...) pool
-- every department and stay in the CISO's view.
INSERT INTO {{.Table}} ({{.Columns}})
SELECT {{.Columns}}
FROM {{.Source}}
WHERE (dimension = 'department' AND dimension_value = @department)
    OR (dimension = 'department_severity' AND replaceRegexpOne(dimension_value, '(?s)/[^/]*$', '') = @department)
    OR (dimension IN ('team', 'team_severity') AND if(dimension = 'team', dimension_value, replaceRegexpOne(dimension_value, '(?s)/[^/]*$', '')) IN
    (
        SELECT team FROM {{.Database}}.findings WHERE department = @department AND team != ''
        UNION ALL
        SELECT team FROM {{.Database}}.deployment_facts WHERE department = @department AND team != ''
    ))
