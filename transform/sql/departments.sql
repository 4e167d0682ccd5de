-- Every department the organisation's data names: owners in the service
-- catalog (any state, so a department emptied by a re-organisation keeps
-- its history) and every department of the scorecard (findings and
-- deployments as owned at the time, policy exceptions, vendor
-- assessments, incident contributions). The empty department (a service
-- the catalog does not know) is no department, and neither is the
-- scorecard's (unassigned), where incidents naming no contributing
-- department are shown.
SELECT department
FROM
(
    SELECT department FROM service_events
    UNION ALL
    SELECT department FROM department_scorecard
)
WHERE department != '' AND department != '(unassigned)'
GROUP BY department
ORDER BY department
