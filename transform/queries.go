package transform

import (
	"fmt"
	"strings"
)

// The SQL impact_stats reads, in one place. Each reads a fact table (or
// the latest states of a small typed table) at the grain the statistics
// need: one row per deal, incident, assessment, exception; deployments,
// tickets and findings pre-aggregated into groups small enough to decode
// fast, with the values a median or a survival curve needs as one array
// per group. Every group carries its month (toYYYYMM, UTC) so the figures
// can be computed per month, quarter and year as well as over all data.
// The figures are the same, bit for bit, whatever the order of the groups
// and of the values in a group (TestStatsOrderInvariant), so the grouped
// reads are not sorted (a fifth of their server CPU). The per-row reads
// (deals, incidents, vendors, exceptions) are sorted by id: the sums over
// them would differ in the last bits in another order, and every refresh
// of the same data must give the same figures (deals are sorted by
// loadDeals, not by the server).
const (
	// One row per closed deal, with its id, unsorted: loadDeals sorts them
	// by id, the order every figure over deals is summed in. A server-side
	// ORDER BY sorted every column of every deal (0.2 s of server CPU per
	// refresh at 10M events, four fifths of this read); the client sorts an
	// index of the ids.
	//
	// Each deal comes with its partition ({partition}: the table's
	// PARTITION BY), and {skip} leaves out the partitions whose deals the
	// refresh reuses from Options.Cache (partitionRead).
	qDeals = `SELECT opportunity_id, account_id, segment, landmark_bucket, review_bucket, outcome, ifNull(loss_reason, ''), won,
    review_turnaround_days, cycle_days, amount_usd, toUInt32(toYYYYMM(closed_at)), review_required, toUInt64({partition})
FROM deal_facts{skip}`
	// How many deals qDeals will read, about: the capacity to read them
	// into (a few hundred thousand rows of some 170 bytes, copied at every
	// doubling of the slice otherwise).
	qDealCount = `SELECT count() FROM deal_facts`

	// Deployments per service, owner, environment, status, gate outcome
	// and start month: the count, and the lead times (non-negative: a
	// first commit stamped after the finish is clock skew), their number
	// and their bytes (floatBytes). Grouped per partition too
	// ({partition}, {skip}: as for qDeals), so that a refresh reads again
	// only the partitions it rebuilt; a group split over partitions gives
	// the same figures (TestStatsGroupsSplit).
	qDeploymentGroups = `SELECT service_id, department, team, environment, status, gate_blocked, gate_waived,
    toUInt32(toYYYYMM(started_at)) AS month, count() AS n,
    length(groupArrayIf(assumeNotNull(lead_time_hours), isNotNull(lead_time_hours) AND assumeNotNull(lead_time_hours) >= 0) AS leads) AS n_lead,
    arrayStringConcat(arrayMap(x -> reinterpretAsString(if(x = 0, -0., x)), leads), '') AS lead,
    toUInt64({partition}) AS partition
FROM deployment_facts{skip}
GROUP BY partition, service_id, department, team, environment, status, gate_blocked, gate_waived, month`

	// Security-fix lead times (finding detected -> the deployment that
	// shipped its fix finished), by the month the fix shipped: a
	// security_fix deployment to production that succeeded, as the DORA
	// security lens counts a shipped fix (a failed or staging deployment
	// naming the finding fixed nothing yet). Those are dora_changes' rows of
	// trigger security_fix, and dora_changes keeps each one's lead times
	// (security_fix_finding_lead_hours): it joins the fixes with findings
	// anyway, and recomputes a fix only when a finding it names changed, so
	// this read does not join every fix with findings again (0.5 s of server
	// CPU per refresh at 10M events).
	//
	// With its partition, as qDeals ({partition}; {and skip}: AND the
	// PREWHERE that leaves out the reused partitions).
	qSecurityFix = `SELECT toUInt32(toYYYYMM(finished_at)), arrayJoin(security_fix_finding_lead_hours), toUInt64({partition})
FROM dora_changes
PREWHERE trigger = 'security_fix'{and skip}`

	// The tickets, each as its account and one integer of the small keys
	// the figures group them by (bits: csat 0-7, rated 8, security 9,
	// incident window 10, month from 12; each flag 1 only when the column
	// is 1), from ticket_facts, or from the base of its view (ticketRead).
	// The rows are not grouped here: at 10M events 800,000 tickets make
	// 630,000 groups of account and key, which cost the server 0.6 s of
	// CPU to group, and the client little more to count than to decode
	// (the read alone: 0.05 s).
	qTicketRows = `SELECT account_id, ` + ticketKey + ` AS k FROM ticket_facts`

	// The tickets counted per account and key (qTicketRows), {where} a
	// PREWHERE or nothing: the few tickets of a view's delta, and the
	// base's rows the delta replaces (loadTickets, ticketRead).
	qTicketCounts = `SELECT account_id, ` + ticketKey + ` AS k, count() FROM ticket_facts{where} GROUP BY account_id, k`

	// The accounts any incident affected (its latest affected_account_ids):
	// the tickets of these accounts are counted per account, the others
	// together (the figures follow no other account: metric 12 compares an
	// affected account with its own baseline).
	qAffectedAccounts = `SELECT DISTINCT arrayJoin(accounts)
FROM
(
    SELECT incident_id, tupleElement(argMax(tuple(affected_account_ids), tuple(event_time, event_id)), 1) AS accounts
    FROM (SELECT * FROM incident_events) GROUP BY incident_id
)`

	// Findings per team, department, severity, status, SLA outcome (2: none
	// yet), debt flag, detection month and due-date cohort month (0: not in
	// a cohort): the count and the times to fix in days (fixed findings
	// observed, open ones censored at their age as of the refresh's as-of
	// time, dismissed ones at dismissal) as the bytes of the n values
	// (floatBytes), from finding_groups (finer groups, which the scorecard
	// reads too), and the as-of time the groups were counted at.
	qFindingGroups = `SELECT team, department, severity, status, ifNull(within_sla, 2) AS within,
    toUInt8(status = 'open' AND debt_age = 1) AS debt, toUInt32(toYYYYMM(detected_month)) AS dmonth,
    toUInt32(if(isNull(sla_cohort_month), 0, toYYYYMM(assumeNotNull(sla_cohort_month)))) AS cmonth, sum(findings) AS n,
    arrayStringConcat(arrayMap(x -> reinterpretAsString(if(x = 0, -0., x)), groupArrayArray(days)), '') AS day_bytes,
    toInt64(any(as_of))
FROM finding_groups
GROUP BY team, department, severity, status, within, debt, dmonth, cmonth`

	// Incidents, latest state: detection month, contributing departments,
	// the cost when known.
	qIncidents = `SELECT incident_id, toUInt32(toYYYYMM(tupleElement(i, 1))), tupleElement(i, 2), tupleElement(i, 3)
FROM
(
    SELECT incident_id, argMax(tuple(detected_at, contributing_departments, cost_usd), tuple(event_time, event_id)) AS i
    FROM (SELECT * FROM incident_events) GROUP BY incident_id
)
ORDER BY incident_id`

	qCostOfRisk = `SELECT department, sum(cost_of_risk_usd), sum(incidents) FROM department_scorecard GROUP BY department ORDER BY department`

	qVendors = `SELECT tupleElement(s, 1),
    toUInt32(toYYYYMM(tupleElement(s, 3))),
    toFloat64(ifNull(tupleElement(s, 2), 0)),
    toFloat64(ifNull(tupleElement(s, 5), 0)),
    if(isNotNull(tupleElement(s, 4)), (toInt64(assumeNotNull(tupleElement(s, 4))) - toInt64(tupleElement(s, 3))) / 86400, NULL)
FROM
(
    SELECT assessment_id,
           argMax(tuple(department, assessment_cost_usd, requested_at, completed_at, annual_monitoring_cost_usd), tuple(event_time, event_id)) AS s
    FROM (SELECT * FROM vendor_assessment_events) GROUP BY assessment_id
)
ORDER BY assessment_id`

	qExceptions = `SELECT tupleElement(s, 1),
    (toInt64(ifNull(tupleElement(s, 3), toDateTime(@asof))) - toInt64(tupleElement(s, 2))) / 86400,
    toUInt8(isNotNull(tupleElement(s, 3)))
FROM
(
    SELECT exception_id,
           argMax(tuple(department, opened_at, resolved_at), tuple(event_time, event_id)) AS s
    FROM (SELECT * FROM policy_exception_events) GROUP BY exception_id
)
ORDER BY exception_id`
)

// partitionRead renders q, a read of table with {partition} and {skip}
// or {and skip}: the table's partition expression (its model's PARTITION
// BY, the one owner), and a PREWHERE (or a condition added to q's own)
// that leaves out the partitions skip (none: every row). Only a partition
// id that is not an integer is an error.
func partitionRead(q, table string, skip []string) (string, error) {
	expr := ""
	if m := modelNamed(table); m != nil {
		expr = m.partition()
	}
	cond, err := skipPartitions(expr, skip)
	if err != nil {
		return "", fmt.Errorf("impact_stats: read %s: %w", table, err)
	}
	where, and := "", ""
	if cond != "" {
		where, and = "\nPREWHERE "+cond, " AND "+cond
	}
	return strings.NewReplacer("{partition}", expr, "{skip}", where, "{and skip}", and).Replace(q), nil
}

// ticketKey packs a ticket's small keys into one integer (qTicketRows).
const ticketKey = `toUInt32(toYYYYMM(created_at) * 4096 + (after_incident_30d = 1) * 1024 + (security_related = 1) * 512
    + isNotNull(csat_score) * 256 + ifNull(csat_score, 0))`

// ticketRead is a read of the tickets (qTicketRows, qTicketCounts) from
// table instead of ticket_facts, where "" or a condition; table and where
// come from the view's definition as layoutOf matched it (a layer table's
// name), not from input.
func ticketRead(q, table, where string) string {
	if where != "" {
		where = "\nPREWHERE " + where
	}
	return strings.NewReplacer("FROM ticket_facts", "FROM "+table, "{where}", where).Replace(q)
}

// partQueries is the query of each part of the statsInput, in part order
// (the partitioned reads before partitionRead).
var partQueries = [numParts]string{
	partDeals:       qDeals,
	partDeployments: qDeploymentGroups,
	partSecurityFix: qSecurityFix,
	partTickets:     qTicketRows,
	partFindings:    qFindingGroups,
	partIncidents:   qIncidents,
	partCostOfRisk:  qCostOfRisk,
	partVendors:     qVendors,
	partExceptions:  qExceptions,
}
