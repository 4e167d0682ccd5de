-- department_scorecard: per department and month, from the fact tables and
-- the latest states of incidents, policy exceptions and vendor assessments.
-- Every part emits (department, month, metric, value); the outer query
-- pivots, so adding a metric is one more UNION ALL branch.
INSERT INTO {{.Table}} (department, month, findings_opened, findings_fixed, open_critical, open_high, open_medium,
    open_low, open_info, security_debt, sla_within, sla_breached, sla_compliance, deployments,
    gate_blocked_deployments, gate_block_rate, policy_exceptions_opened, policy_exceptions_open, incidents,
    incident_cost_usd, vendor_assessments, vendor_assessment_cost_usd, vendor_assessments_completed, vendor_cycle_seconds,
    policy_exceptions_resolved, policy_exception_resolved_seconds, vendor_monitoring_cost_usd, cost_of_risk_usd,
    control_spend_usd, incidents_cost_unknown)
SELECT
    department, month,
    toUInt64(sumIf(v, metric = 'findings_opened')),
    toUInt64(sumIf(v, metric = 'findings_fixed')),
    toUInt64(sumIf(v, metric = 'open_critical')),
    toUInt64(sumIf(v, metric = 'open_high')),
    toUInt64(sumIf(v, metric = 'open_medium')),
    toUInt64(sumIf(v, metric = 'open_low')),
    toUInt64(sumIf(v, metric = 'open_info')),
    toUInt64(sumIf(v, metric = 'security_debt')),
    toUInt64(sumIf(v, metric = 'sla_within')) AS within,
    toUInt64(sumIf(v, metric = 'sla_breached')) AS breached,
    if(within + breached > 0, within / (within + breached), NULL),
    toUInt64(sumIf(v, metric = 'deployments')) AS deps,
    toUInt64(sumIf(v, metric = 'gate_blocked')) AS blocked,
    if(deps > 0, blocked / deps, NULL),
    toUInt64(sumIf(v, metric = 'policy_exceptions_opened')),
    toUInt64(sumIf(v, metric = 'policy_exceptions_open')),
    toUInt64(sumIf(v, metric = 'incidents')),
    sumIf(v, metric = 'incident_cost_usd') AS inc_cost,
    toUInt64(sumIf(v, metric = 'vendor_assessments')),
    sumIf(v, metric = 'vendor_assessment_cost_usd') AS va_cost,
    toUInt64(sumIf(v, metric = 'vendor_assessments_completed')),
    toUInt64(sumIf(v, metric = 'vendor_cycle_seconds')),
    toUInt64(sumIf(v, metric = 'policy_exceptions_resolved')),
    toUInt64(sumIf(v, metric = 'policy_exception_resolved_seconds')),
    sumIf(v, metric = 'vendor_monitoring_cost_usd') AS vm_cost,
    inc_cost + va_cost + vm_cost,
    va_cost + vm_cost,
    toUInt64(sumIf(v, metric = 'incidents_cost_unknown'))
FROM
(
    -- The branches over the big fact tables count per department and month
    -- before the pivot, so the pivot's sumIf runs over a few thousand rows.
    --
    -- Every figure of findings comes from the groups of findings alike
    -- (finding_groups, some 15,000 at 10M events), each group
    -- emitting its count n to the month of each figure it counts in:
    -- findings_opened (detection month), findings_fixed (fix month),
    -- sla_within / sla_breached by due-date cohort (findings.sla_cohort_month,
    -- the one definition every SLA compliance figure uses), and the
    -- month-end snapshots of open findings (open_<severity>, security_debt).
    -- A finding is open at the end of month m (or at @asof in the as-of
    -- month) when detected_at < end(m) and it was not closed by then. That is
    -- every month from its detection month up to the month before it closed
    -- (or up to the as-of month while open at @asof), and security debt from
    -- the month detected_at + 365 days falls in. Each finding emits +n where
    -- such a stretch starts and -n where it ends; the running sum over the
    -- months of each department and metric gives the month-end counts, without
    -- a row per finding and month. The other figures are the months' sums.
    SELECT department, month, metric, toFloat64(value) AS v
    FROM
    (
        -- The lambda gets months and deltas as arguments: 18.16 prunes the
        -- subquery columns that a lambda captures without naming them elsewhere.
        -- Only a running metric spans the months up to @asof (its first month
        -- is before it: detected_at < @asof); the others keep their months.
        SELECT department, metric,
               startsWith(metric, 'open_') OR metric = 'security_debt' AS running,
               arrayMap(i -> addMonths(first, i),
                   range(if(running, toUInt32(dateDiff('month', first, toStartOfMonth(toDateTime(@asof))) + 1), toUInt32(0)))) AS all_months,
               arrayCumSum(arrayMap((m, ms, ds) -> if(indexOf(ms, m) = 0, toInt64(0), arrayElement(ds, indexOf(ms, m))),
                   all_months, arrayResize([months], length(all_months), months), arrayResize([deltas], length(all_months), deltas))) AS counts,
               if(running, all_months, months) AS out_months,
               if(running, counts, deltas) AS out_values
        FROM
        (
            SELECT department, metric, groupArray(month) AS months, groupArray(delta) AS deltas, min(month) AS first
            FROM
            (
                SELECT department, metric, month, sum(delta) AS delta
                FROM
                (
                    SELECT department, tupleElement(d, 1) AS metric, tupleElement(d, 2) AS month, tupleElement(d, 3) AS delta
                    FROM
                    (
                        SELECT department, det_month, close_month, debt_month,
                            arrayJoin(arrayFilter(x -> tupleElement(x, 1) != '', [
                                tuple('findings_opened', det_month, n),
                                tuple(if(fixed, 'findings_fixed', ''), fix_month, n),
                                tuple(if(in_cohort, if(within, 'sla_within', 'sla_breached'), ''), cohort_month, n),
                                tuple(if(before AND close_month > det_month, concat('open_', severity), ''), det_month, n),
                                tuple(if(before AND close_month > det_month AND close_month <= asof_month, concat('open_', severity), ''), close_month, -n),
                                tuple(if(before AND debt AND close_month > debt_month, 'security_debt', ''), debt_month, n),
                                tuple(if(before AND debt AND close_month > debt_month AND close_month <= asof_month, 'security_debt', ''), close_month, -n)])) AS d
                        FROM
                        (
                            -- The groups of findings alike (finding_groups.sql: the
                            -- months and as-of tests of each finding).
                            SELECT department, severity, detected_before_as_of AS before, detected_month AS det_month,
                                toStartOfMonth(toDateTime(@asof)) AS asof_month, close_month, debt_age AS debt, debt_month,
                                fixed, fix_month, isNotNull(sla_cohort_month) AS in_cohort,
                                ifNull(sla_cohort_month, toDate(0)) AS cohort_month, ifNull(within_sla, 0) = 1 AS within,
                                toInt64(sum(findings)) AS n
                            FROM finding_groups
                            GROUP BY department, severity, before, det_month, asof_month, close_month, debt, debt_month,
                                fixed, fix_month, in_cohort, cohort_month, within
                        )
                    )
                )
                GROUP BY department, metric, month
            )
            GROUP BY department, metric
        )
    )
    ARRAY JOIN out_months AS month, out_values AS value
    WHERE value > 0
    UNION ALL
    SELECT department, month, metric, v
    FROM
    (
        SELECT department, toStartOfMonth(started_at) AS month, count() AS deployments, sum(gate_blocked) AS blocked
        FROM deployment_facts
        GROUP BY department, month
    )
    ARRAY JOIN ['deployments', 'gate_blocked'] AS metric, [toFloat64(deployments), toFloat64(blocked)] AS v
    UNION ALL
    SELECT tupleElement(p, 1) AS department, toStartOfMonth(tupleElement(p, 2)) AS month, 'policy_exceptions_opened' AS metric, toFloat64(1) AS v
    FROM
    (
        SELECT exception_id, argMax(tuple(department, opened_at), tuple(event_time, event_id)) AS p
        FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
    )
    UNION ALL
    SELECT department, month, 'policy_exceptions_open' AS metric, toFloat64(1) AS v
    FROM
    (
        SELECT department, opened_at, resolved_at, month,
               least(toDateTime(addMonths(month, 1)), toDateTime(@asof)) AS month_end
        FROM
        (
            SELECT department, opened_at, resolved_at,
                   arrayJoin(arrayMap(i -> addMonths(toStartOfMonth(opened_at), i),
                       range(toUInt32(greatest(0, dateDiff('month', toStartOfMonth(opened_at),
                           toStartOfMonth(least(ifNull(resolved_at, toDateTime(@asof)), toDateTime(@asof))))) + 1)))) AS month
            FROM
            (
                SELECT tupleElement(p, 1) AS department, tupleElement(p, 2) AS opened_at, tupleElement(p, 3) AS resolved_at
                FROM
                (
                    SELECT exception_id, argMax(tuple(department, opened_at, resolved_at), tuple(event_time, event_id)) AS p
                    FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
                )
            )
            WHERE opened_at < toDateTime(@asof)
        )
    )
    WHERE opened_at < month_end AND (isNull(resolved_at) OR assumeNotNull(resolved_at) >= month_end)
    UNION ALL
    -- Incidents: cost split evenly over the contributing departments; an
    -- incident naming none is charged to '(unassigned)', not dropped; one
    -- whose cost is not known yet is counted in incidents_cost_unknown.
    SELECT department, month, metric, v
    FROM
    (
        SELECT department, toStartOfMonth(inc_detected_at) AS month, cost / length(depts) AS share, unknown
        FROM
        (
            SELECT if(empty(tupleElement(i, 1)), ['(unassigned)'], tupleElement(i, 1)) AS depts, tupleElement(i, 2) AS inc_detected_at,
                   toFloat64(ifNull(tupleElement(i, 3), 0)) AS cost, toFloat64(isNull(tupleElement(i, 3))) AS unknown
            FROM
            (
                SELECT incident_id, argMax(tuple(contributing_departments, detected_at, cost_usd), tuple(event_time, event_id)) AS i
                FROM (SELECT * FROM incident_events) GROUP BY incident_id
            )
        )
        ARRAY JOIN depts AS department
    )
    ARRAY JOIN ['incidents', 'incident_cost_usd', 'incidents_cost_unknown'] AS metric, [toFloat64(1), share, unknown] AS v
    UNION ALL
    SELECT tupleElement(a, 1) AS department, toStartOfMonth(tupleElement(a, 2)) AS month, metric, v
    FROM
    (
        SELECT tupleElement(a, 1) AS dep, a,
               toFloat64(ifNull(tupleElement(a, 3), 0)) AS a_cost,
               toFloat64(ifNull(tupleElement(a, 4), 0)) AS m_cost
        FROM
        (
            SELECT assessment_id,
                   argMax(tuple(department, requested_at, assessment_cost_usd, annual_monitoring_cost_usd), tuple(event_time, event_id)) AS a
            FROM (SELECT * FROM vendor_assessment_events) GROUP BY assessment_id
        )
    )
    ARRAY JOIN ['vendor_assessments', 'vendor_assessment_cost_usd', 'vendor_monitoring_cost_usd'] AS metric, [toFloat64(1), a_cost, m_cost] AS v
    UNION ALL
    SELECT tupleElement(a, 1) AS department, toStartOfMonth(assumeNotNull(tupleElement(a, 3))) AS month, metric, v
    FROM
    (
        SELECT a, toFloat64(toInt64(assumeNotNull(tupleElement(a, 3))) - toInt64(tupleElement(a, 2))) AS cycle
        FROM
        (
            SELECT assessment_id, argMax(tuple(department, requested_at, completed_at), tuple(event_time, event_id)) AS a
            FROM (SELECT * FROM vendor_assessment_events) GROUP BY assessment_id
        )
        WHERE isNotNull(tupleElement(a, 3))
    )
    ARRAY JOIN ['vendor_assessments_completed', 'vendor_cycle_seconds'] AS metric, [toFloat64(1), cycle] AS v
    UNION ALL
    SELECT tupleElement(p, 1) AS department, toStartOfMonth(assumeNotNull(tupleElement(p, 3))) AS month, metric, v
    FROM
    (
        SELECT p, toFloat64(toInt64(assumeNotNull(tupleElement(p, 3))) - toInt64(tupleElement(p, 2))) AS open_seconds
        FROM
        (
            SELECT exception_id, argMax(tuple(department, opened_at, resolved_at), tuple(event_time, event_id)) AS p
            FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
        )
        WHERE isNotNull(tupleElement(p, 3))
    )
    ARRAY JOIN ['policy_exceptions_resolved', 'policy_exception_resolved_seconds'] AS metric, [toFloat64(1), open_seconds] AS v
)
GROUP BY department, month
