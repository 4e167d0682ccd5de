package transform_test

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform/stats"
)

// observed is what the analyst contract tables say, in the shape of the
// simulator's truth, so the two can be compared field by field.
type observed struct {
	Deals       simulate.DealTruth
	Deployments simulate.DeploymentTruth
	Tickets     simulate.TicketTruth
	Findings    simulate.FindingTruth
	Departments map[string]simulate.DepartmentTruth

	// Cycle-time figures the truth file has carried in more than one
	// shape (per department, or under durations); compareTruth places
	// them where the truth has them.
	SecurityFixLead     simulate.LeadTime
	VendorCycle         map[string]cycle
	PolicyExceptionOpen map[string]cycle
}

type cycle struct {
	N       int   `json:"n"`
	Seconds int64 `json:"seconds"`
}

func query(t *testing.T, conn driver.Conn, q string, args []any, scan func(driver.Rows) error) {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatalf("scan %s: %v", q, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// medianExact is ClickHouse quantileExact(0.5): element floor(n/2) of the
// sorted values, the truth file's convention.
func medianExact(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func addRate(r *simulate.Rate, outcome string, n int) {
	r.N += n
	switch outcome {
	case "won":
		r.Won += n
	case "lost":
		r.Lost += n
	case "no_decision":
		r.NoDecision += n
	}
	if r.N > 0 {
		r.WinRate = float64(r.Won) / float64(r.N)
	}
}

func observe(t *testing.T, conn driver.Conn, end time.Time) observed {
	t.Helper()
	var o observed
	// deal_facts
	d := &o.Deals
	d.ByBucket = map[string]simulate.Rate{}
	d.BySegment = map[string]simulate.Rate{}
	d.BySegmentBucket = map[string]map[string]simulate.Rate{}
	d.ByLandmarkBucket = map[string]simulate.Rate{}
	d.BySegmentLandmarkBucket = map[string]map[string]simulate.Rate{}
	d.ByOutcome = map[string]int{}
	d.RevenueLostBySegment = map[string]float64{}
	d.CycleSecondsByBucket = map[string]int64{}
	for _, s := range simulate.Segments {
		d.BySegmentBucket[s] = map[string]simulate.Rate{}
		d.BySegmentLandmarkBucket[s] = map[string]simulate.Rate{}
		for _, b := range simulate.Buckets {
			d.BySegmentBucket[s][b] = simulate.Rate{}
			d.BySegmentLandmarkBucket[s][b] = simulate.Rate{}
		}
		d.BySegment[s] = simulate.Rate{}
		d.RevenueLostBySegment[s] = 0
	}
	for _, b := range simulate.Buckets {
		d.ByBucket[b] = simulate.Rate{}
		d.ByLandmarkBucket[b] = simulate.Rate{}
		d.CycleSecondsByBucket[b] = 0
	}
	query(t, conn, `SELECT review_bucket, segment, outcome, count(), sum(amount_usd), sum(toInt64(closed_at) - toInt64(created_at)),
		sumIf(amount_usd, outcome = 'lost' AND ifNull(loss_reason, '') = 'security'), countIf(outcome = 'lost' AND ifNull(loss_reason, '') = 'security'),
		countIf(review_required = 1)
		FROM deal_facts GROUP BY review_bucket, segment, outcome`, nil, func(r driver.Rows) error {
		var b, s, out string
		var n, lostN, req uint64
		var amount, lost float64
		var cycle int64
		if err := r.Scan(&b, &s, &out, &n, &amount, &cycle, &lost, &lostN, &req); err != nil {
			return err
		}
		d.Closed += int(n)
		d.ReviewRequired += int(req)
		d.ByOutcome[out] += int(n)
		d.AmountUSD += amount
		d.RevenueLostSecurityUSD += lost
		d.LostSecurity += int(lostN)
		d.RevenueLostBySegment[s] += lost
		d.CycleSecondsByBucket[b] += cycle
		rb, rs, rsb := d.ByBucket[b], d.BySegment[s], d.BySegmentBucket[s][b]
		addRate(&rb, out, int(n))
		addRate(&rs, out, int(n))
		addRate(&rsb, out, int(n))
		d.ByBucket[b], d.BySegment[s], d.BySegmentBucket[s][b] = rb, rs, rsb
		return nil
	})
	query(t, conn, `SELECT landmark_bucket, segment, outcome, count() FROM deal_facts GROUP BY landmark_bucket, segment, outcome`, nil, func(r driver.Rows) error {
		var b, s, out string
		var n uint64
		if err := r.Scan(&b, &s, &out, &n); err != nil {
			return err
		}
		rb, rsb := d.ByLandmarkBucket[b], d.BySegmentLandmarkBucket[s][b]
		addRate(&rb, out, int(n))
		addRate(&rsb, out, int(n))
		d.ByLandmarkBucket[b], d.BySegmentLandmarkBucket[s][b] = rb, rsb
		return nil
	})
	d.FastMinusSlowPooled = d.ByLandmarkBucket["fast"].WinRate - d.ByLandmarkBucket["slow"].WinRate
	var strata []stats.Stratum
	for _, s := range simulate.Segments {
		f, sl := d.BySegmentLandmarkBucket[s]["fast"], d.BySegmentLandmarkBucket[s]["slow"]
		strata = append(strata, stats.Stratum{X1: f.Won, N1: f.N, X0: sl.Won, N0: sl.N})
	}
	d.FastMinusSlowStratified = stats.MantelHaenszelRD(strata, 0.95).Value

	// deployment_facts
	dp := &o.Deployments
	dp.ByStatus, dp.ByTrigger, dp.ByEnvironment = map[string]int{}, map[string]int{}, map[string]int{}
	var blocked, unblocked []float64
	query(t, conn, `SELECT status, trigger, environment, gate_blocked, isNotNull(finished_at),
		if(isNotNull(finished_at) AND isNotNull(first_commit_at), toInt64(assumeNotNull(finished_at)) - toInt64(assumeNotNull(first_commit_at)), -1),
		lead_time_hours, ifNull(gate_wait_hours, 0) * 3600
		FROM deployment_facts`, nil, func(r driver.Rows) error {
		var st, tr, env string
		var gb, fin uint8
		var sec int64
		var lead *float64
		var wait float64
		if err := r.Scan(&st, &tr, &env, &gb, &fin, &sec, &lead, &wait); err != nil {
			return err
		}
		dp.Deployments++
		dp.Finished += int(fin)
		dp.ByStatus[st]++
		dp.ByTrigger[tr]++
		dp.ByEnvironment[env]++
		dp.GateBlocked += int(gb)
		dp.GateWaitSeconds += int64(math.Round(wait))
		if tr == "security_fix" {
			dp.SecurityFix++
		}
		if sec >= 0 {
			lt := &dp.LeadTimeUnblocked
			if gb == 1 {
				lt = &dp.LeadTimeBlocked
				blocked = append(blocked, *lead)
			} else {
				unblocked = append(unblocked, *lead)
			}
			lt.N++
			lt.Seconds += sec
		}
		return nil
	})
	for _, lt := range []struct {
		lt *simulate.LeadTime
		x  []float64
	}{{&dp.LeadTimeBlocked, blocked}, {&dp.LeadTimeUnblocked, unblocked}} {
		if lt.lt.N > 0 {
			lt.lt.MeanHours = float64(lt.lt.Seconds) / float64(lt.lt.N) / 3600
		}
		lt.lt.MedianHours = medianExact(lt.x)
	}

	// Security-fix lead time: deployment_facts x findings.
	var fixLead []float64
	query(t, conn, `SELECT toInt64(shipped_at) - toInt64(detected_at)
		FROM (SELECT arrayJoin(fixes_finding_ids) AS finding_id, assumeNotNull(finished_at) AS shipped_at
		      FROM deployment_facts WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success' AND isNotNull(finished_at)) AS l
		ALL INNER JOIN (SELECT finding_id, detected_at FROM findings) AS r USING finding_id`, nil, func(r driver.Rows) error {
		var sec int64
		if err := r.Scan(&sec); err != nil {
			return err
		}
		o.SecurityFixLead.N++
		o.SecurityFixLead.Seconds += sec
		fixLead = append(fixLead, float64(sec)/3600)
		return nil
	})
	if o.SecurityFixLead.N > 0 {
		o.SecurityFixLead.MeanHours = float64(o.SecurityFixLead.Seconds) / float64(o.SecurityFixLead.N) / 3600
	}
	o.SecurityFixLead.MedianHours = medianExact(fixLead)

	// ticket_facts
	tk := &o.Tickets
	addMean := func(m *simulate.Mean, v float64) {
		m.N++
		m.Sum += v
		m.Mean = m.Sum / float64(m.N)
	}
	query(t, conn, `SELECT after_incident_30d, security_related, isNotNull(solved_at), csat_score, affected
		FROM (SELECT account_id, after_incident_30d, security_related, solved_at, csat_score FROM ticket_facts)
		ALL LEFT JOIN (
			SELECT DISTINCT arrayJoin(a) AS account_id, toUInt8(1) AS affected FROM (
				SELECT incident_id, tupleElement(argMax(tuple(affected_account_ids), event_time), 1) AS a
				FROM incident_events GROUP BY incident_id)
		) USING account_id`, nil, func(r driver.Rows) error {
		var after, sec, solved, affected uint8
		var csat *uint8
		if err := r.Scan(&after, &sec, &solved, &csat, &affected); err != nil {
			return err
		}
		tk.Tickets++
		tk.AfterIncident30d += int(after)
		tk.SecurityRelated += int(sec)
		if after == 1 {
			tk.SecurityRelatedAfterIncident += int(sec)
		}
		tk.Solved += int(solved)
		if csat != nil {
			tk.Rated++
			v := float64(*csat)
			if after == 1 {
				addMean(&tk.CSATAfterIncident, v)
			} else {
				addMean(&tk.CSATBaseline, v)
				if affected == 1 {
					addMean(&tk.CSATAffectedBaseline, v)
				}
			}
		}
		return nil
	})

	// findings
	f := &o.Findings
	f.BySeverityStatus = map[string]map[string]int{}
	for _, sev := range []string{"critical", "high", "medium", "low", "info"} {
		f.BySeverityStatus[sev] = map[string]int{"open": 0, "fixed": 0, "dismissed": 0}
	}
	f.ByTeam, f.ByDepartment = map[string]simulate.SLA{}, map[string]simulate.SLA{}
	query(t, conn, `SELECT severity, status, team, department, within_sla,
		if(status = 'fixed', toInt64(assumeNotNull(fixed_at)) - toInt64(detected_at), 0), detected_at, reopened
		FROM findings`, nil, func(r driver.Rows) error {
		var sev, st, team, dept string
		var within *uint8
		var fixSec int64
		var det time.Time
		var reopened uint8
		if err := r.Scan(&sev, &st, &team, &dept, &within, &fixSec, &det, &reopened); err != nil {
			return err
		}
		f.Findings++
		f.BySeverityStatus[sev][st]++
		f.Reopened += int(reopened)
		if st == "open" && (sev == "high" || sev == "critical") && det.Before(end.Add(-365*24*time.Hour)) {
			f.SecurityDebt++
		}
		for _, kv := range []struct {
			m map[string]simulate.SLA
			k string
		}{{f.ByTeam, team}, {f.ByDepartment, dept}} {
			s := kv.m[kv.k]
			s.Findings++
			switch st {
			case "open":
				s.Open++
			case "fixed":
				s.Fixed++
				s.FixSeconds += fixSec
			case "dismissed":
				s.Dismissed++
			}
			switch {
			case within == nil:
				s.NullSLA++
			case *within == 1:
				s.Within++
			default:
				s.Breached++
			}
			if s.Within+s.Breached > 0 {
				s.Compliance = float64(s.Within) / float64(s.Within+s.Breached)
			}
			kv.m[kv.k] = s
		}
		return nil
	})

	// department_scorecard, summed over months; open exceptions as of the
	// as-of month.
	o.Departments = map[string]simulate.DepartmentTruth{}
	o.VendorCycle = map[string]cycle{}
	o.PolicyExceptionOpen = map[string]cycle{}
	for _, dep := range simulate.Departments {
		o.Departments[dep] = simulate.DepartmentTruth{}
	}
	query(t, conn, `SELECT department, sum(incident_cost_usd), sum(incidents), sum(vendor_assessment_cost_usd),
		sum(vendor_monitoring_cost_usd), sum(vendor_assessments), sum(cost_of_risk_usd), sum(policy_exceptions_opened),
		sumIf(policy_exceptions_open, month = toStartOfMonth(toDateTime(?))),
		sum(vendor_assessments_completed), sum(vendor_cycle_seconds), sum(policy_exceptions_resolved), sum(policy_exception_resolved_seconds)
		FROM department_scorecard GROUP BY department`, []any{end.Unix()}, func(r driver.Rows) error {
		var dep string
		var ic, vac, vmc, cor float64
		var inc, va, pe, peo, vc, vcs, per, pers uint64
		if err := r.Scan(&dep, &ic, &inc, &vac, &vmc, &va, &cor, &pe, &peo, &vc, &vcs, &per, &pers); err != nil {
			return err
		}
		if dep == "" {
			return nil
		}
		o.Departments[dep] = simulate.DepartmentTruth{IncidentCostUSD: ic, Incidents: int(inc), VendorAssessmentCostUSD: vac,
			VendorMonitoringCostUSD: vmc, VendorAssessments: int(va), CostOfRiskUSD: cor, PolicyExceptions: int(pe), PolicyExceptionsOpen: int(peo)}
		o.VendorCycle[dep] = cycle{N: int(vc), Seconds: int64(vcs)}
		o.PolicyExceptionOpen[dep] = cycle{N: int(per), Seconds: int64(pers)}
		return nil
	})
	return o
}
