package simulate

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/transform"
)

// TestTruthMatchesEvents recomputes the truth the way the analyst SQL does:
// decode every delivered line with the contract's decoder, drop rejects,
// deduplicate on source+id, take each entity's latest event by event time,
// then apply the analyst contract's definitions (written again here, with
// time.Time arithmetic on the decoded types, independently of truthBuilder).
// Every figure must equal the generator's truth exactly.
func TestTruthMatchesEvents(t *testing.T) {
	for _, o := range []Options{messy, {Seed: 5, Days: 400, Scale: 0.4}} {
		recs, truth := collect(t, o)
		got := recompute(t, recs, truth.End)
		check := func(name string, a, b any) {
			t.Helper()
			if !reflect.DeepEqual(a, b) {
				t.Errorf("seed %d %s:\nfrom events: %+v\ntruth:       %+v", o.Seed, name, a, b)
			}
		}
		check("valid events", got.Delivery.ValidEvents, truth.Delivery.ValidEvents)
		check("duplicates", got.Delivery.Duplicates, truth.Delivery.Duplicates)
		check("out of order", got.Delivery.OutOfOrder, truth.Delivery.OutOfOrder)
		check("events by type", got.Delivery.EventsByType, truth.Delivery.EventsByType)
		check("entities by table", got.Delivery.EntitiesByTable, truth.Delivery.EntitiesByTable)
		check("deals", got.Deals, truth.Deals)
		check("reviews", got.Reviews, truth.Reviews)
		check("deployments", got.Deployments, truth.Deployments)
		check("tickets", got.Tickets, truth.Tickets)
		check("findings", got.Findings, truth.Findings)
		check("incidents", got.Incidents, truth.Incidents)
		check("departments", got.Departments, truth.Departments)
		if truth.Deals.Closed == 0 || truth.Deployments.GateBlocked == 0 || truth.Tickets.AfterIncident30d == 0 {
			t.Errorf("seed %d: run too small to mean anything: %+v", o.Seed, truth.Deals)
		}
	}
}

type decoded struct {
	t time.Time
	p schemas.Payload
}

func recompute(t *testing.T, recs []Record, end time.Time) *Truth {
	t.Helper()
	tb := newTruthBuilder(Options{}.withDefaults(), 0, end.Unix()) // only for its zeroed maps
	out := &tb.t
	seen := map[string]bool{}
	latest := map[string]decoded{}
	var services []*schemas.Service
	reopened := map[string]bool{}
	lastTime := map[string]time.Time{} // entity -> latest event time delivered so far
	for _, r := range recs {
		e, err := schemas.Decode(r.Value, nil)
		if err != nil {
			continue
		}
		id := e.Source + "\x00" + e.ID
		if seen[id] {
			out.Delivery.Duplicates++
			continue
		}
		seen[id] = true
		ek := e.Payload.Table() + "\x00" + e.Payload.EntityID()
		if last, ok := lastTime[ek]; ok && last.After(e.Time) {
			out.Delivery.OutOfOrder++
		} else {
			lastTime[ek] = e.Time
		}
		out.Delivery.ValidEvents++
		out.Delivery.EventsByType[e.Type]++
		key := e.Payload.Table() + "\x00" + e.Payload.EntityID()
		if cur, ok := latest[key]; !ok || e.Time.After(cur.t) {
			latest[key] = decoded{e.Time, e.Payload}
		}
		if s, ok := e.Payload.(*schemas.Service); ok {
			services = append(services, s)
		}
		if e.Type == "security.finding.reopened" {
			reopened[e.Payload.EntityID()] = true
		}
	}
	// Deterministic iteration: sort entity keys.
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var (
		opps     []*schemas.Opportunity
		reviews  = map[string]*schemas.SecurityReview{}
		deps     []*schemas.Deployment
		blocked  = map[string]bool{}
		tickets  []*schemas.Ticket
		findings []*schemas.Finding
		incByAcc = map[string][]time.Time{}
	)
	for _, k := range keys {
		p := latest[k].p
		out.Delivery.EntitiesByTable[p.Table()]++
		switch v := p.(type) {
		case *schemas.Opportunity:
			opps = append(opps, v)
		case *schemas.SecurityReview:
			reviews[v.ReviewID] = v
		case *schemas.Deployment:
			deps = append(deps, v)
		case *schemas.GateEvaluation:
			d := &out.Deployments
			d.GateRuns++
			d.GateRunsByResult[v.Result]++
			if v.Blocking && v.Result == "fail" {
				d.GateBlockingFails++
				blocked[v.ServiceID+"/"+*v.CommitSHA] = true
			}
			if v.Blocking && v.Result == "waived" {
				d.GateBlockingWaived++
			}
		case *schemas.Ticket:
			tickets = append(tickets, v)
		case *schemas.Finding:
			findings = append(findings, v)
		case *schemas.Incident:
			in := &out.Incidents
			in.Incidents++
			if v.Status == "resolved" {
				in.Resolved++
			}
			for _, a := range v.AffectedAccountIDs {
				incByAcc[a] = append(incByAcc[a], v.DetectedAt)
			}
			if v.CostUSD != nil {
				in.CostUSD += *v.CostUSD
				if len(v.ContributingDepartments) == 0 {
					in.UnattributedCostUSD += *v.CostUSD
				}
			}
			for _, d := range v.ContributingDepartments {
				dt := out.Departments[d]
				dt.Incidents++
				if v.CostUSD != nil {
					dt.IncidentCostUSD += *v.CostUSD / float64(len(v.ContributingDepartments))
				}
				out.Departments[d] = dt
			}
		case *schemas.PolicyException:
			dt := out.Departments[v.Department]
			dt.PolicyExceptions++
			if v.ResolvedAt == nil {
				dt.PolicyExceptionsOpen++
			} else {
				dt.PolicyExceptionResolvedSeconds += int64(v.ResolvedAt.Sub(v.OpenedAt) / time.Second)
			}
			out.Departments[v.Department] = dt
		case *schemas.VendorAssessment:
			dt := out.Departments[v.Department]
			dt.VendorAssessments++
			if v.AssessmentCostUSD != nil {
				dt.VendorAssessmentCostUSD += *v.AssessmentCostUSD
			}
			if v.CompletedAt != nil {
				dt.VendorAssessmentsCompleted++
				dt.VendorCycleSeconds += int64(v.CompletedAt.Sub(v.RequestedAt) / time.Second)
			}
			if v.AnnualMonitoringCostUSD != nil {
				dt.VendorMonitoringCostUSD += *v.AnnualMonitoringCostUSD
			}
			out.Departments[v.Department] = dt
		}
	}
	for d, dt := range out.Departments {
		dt.CostOfRiskUSD = dt.IncidentCostUSD + dt.VendorAssessmentCostUSD + dt.VendorMonitoringCostUSD
		out.Departments[d] = dt
	}
	out.Incidents.AffectedAccounts = len(incByAcc)

	// deal_facts
	dt := &out.Deals
	var turn []int64
	for _, rv := range reviews {
		out.Reviews.Reviews++
		if rv.Status == "completed" && rv.CompletedAt != nil {
			out.Reviews.Completed++
			s := int64(rv.CompletedAt.Sub(rv.RequestedAt) / time.Second)
			turn = append(turn, s)
			out.Reviews.TurnaroundSeconds += s
		}
	}
	out.Reviews.TurnaroundMedianDays = float64(upperMedian(turn)) / 86400
	for _, op := range opps {
		dt.Opportunities++
		if op.Outcome == "open" {
			dt.Open++
			continue
		}
		dt.Closed++
		dt.ByOutcome[op.Outcome]++
		dt.AmountUSD += op.AmountUSD
		bucket := "none"
		if op.SecurityReviewRequired {
			dt.ReviewRequired++
			bucket = "incomplete"
			if op.SecurityReviewID != nil {
				if rv := reviews[*op.SecurityReviewID]; rv != nil && rv.CompletedAt != nil && !rv.CompletedAt.After(*op.ClosedAt) {
					days := rv.CompletedAt.Sub(rv.RequestedAt).Hours() / 24
					switch {
					case days <= 5:
						bucket = "fast"
					case days <= 15:
						bucket = "medium"
					default:
						bucket = "slow"
					}
				}
			}
		}
		// The landmark bucket: what was known 15 days after the request.
		landmark := "none"
		if op.SecurityReviewRequired {
			landmark = "incomplete"
			if op.SecurityReviewID != nil {
				if rv := reviews[*op.SecurityReviewID]; rv != nil {
					mark := rv.RequestedAt.Add(15 * 24 * time.Hour)
					if rv.CompletedAt != nil && !rv.CompletedAt.After(*op.ClosedAt) && !rv.CompletedAt.After(mark) {
						landmark = "medium"
						if !rv.CompletedAt.After(rv.RequestedAt.Add(5 * 24 * time.Hour)) {
							landmark = "fast"
						}
					} else if op.ClosedAt.After(mark) {
						landmark = "slow"
					}
				}
			}
		}
		dt.ByLandmarkBucket[landmark] = dt.ByLandmarkBucket[landmark].add(op.Outcome)
		dt.BySegmentLandmarkBucket[op.Segment][landmark] = dt.BySegmentLandmarkBucket[op.Segment][landmark].add(op.Outcome)
		dt.ByBucket[bucket] = dt.ByBucket[bucket].add(op.Outcome)
		dt.BySegment[op.Segment] = dt.BySegment[op.Segment].add(op.Outcome)
		dt.BySegmentBucket[op.Segment][bucket] = dt.BySegmentBucket[op.Segment][bucket].add(op.Outcome)
		dt.CycleSecondsByBucket[bucket] += int64(op.ClosedAt.Sub(op.CreatedAt) / time.Second)
		if op.Outcome == "lost" && op.LossReason != nil && *op.LossReason == "security" {
			dt.LostSecurity++
			dt.RevenueLostSecurityUSD += op.AmountUSD
			dt.RevenueLostBySegment[op.Segment] += op.AmountUSD
		}
	}
	dt.FastMinusSlowPooled = dt.ByLandmarkBucket["fast"].WinRate - dt.ByLandmarkBucket["slow"].WinRate
	dt.FastMinusSlowStratified = mantelHaenszelRD(dt.BySegmentLandmarkBucket)

	// deployment_facts
	d := &out.Deployments
	var bl, unbl []int64
	for _, dp := range deps {
		d.Deployments++
		d.ByStatus[dp.Status]++
		d.ByTrigger[dp.Trigger]++
		d.ByEnvironment[dp.Environment]++
		if dp.SecurityGateWaitSeconds != nil {
			d.GateWaitSeconds += int64(*dp.SecurityGateWaitSeconds)
		}
		if dp.Trigger == "security_fix" {
			d.SecurityFix++
		}
		isBlocked := dp.CommitSHA != nil && blocked[dp.ServiceID+"/"+*dp.CommitSHA]
		if isBlocked {
			d.GateBlocked++
		}
		if dp.FinishedAt == nil {
			continue
		}
		d.Finished++
		if dp.FirstCommitAt == nil {
			continue
		}
		lead := int64(dp.FinishedAt.Sub(*dp.FirstCommitAt) / time.Second)
		if isBlocked {
			bl = append(bl, lead)
		} else {
			unbl = append(unbl, lead)
		}
	}
	lt := func(v []int64) LeadTime {
		l := LeadTime{N: len(v)}
		for _, x := range v {
			l.Seconds += x
		}
		if l.N > 0 {
			l.MeanHours = float64(l.Seconds) / float64(l.N) / 3600
			l.MedianHours = float64(upperMedian(v)) / 3600
		}
		return l
	}
	d.LeadTimeBlocked, d.LeadTimeUnblocked = lt(bl), lt(unbl)
	detected := map[string]time.Time{}
	for _, f := range findings {
		detected[f.FindingID] = f.DetectedAt
	}
	var fixLeads []int64
	for _, dp := range deps {
		if dp.Trigger != "security_fix" || dp.FinishedAt == nil || dp.Environment != "production" || dp.Status != "success" {
			continue
		}
		for _, id := range dp.FixesFindingIDs {
			if det, ok := detected[id]; ok {
				fixLeads = append(fixLeads, int64(dp.FinishedAt.Sub(det)/time.Second))
			}
		}
	}
	d.SecurityFixLead = lt(fixLeads)

	// ticket_facts
	tt := &out.Tickets
	for _, tk := range tickets {
		tt.Tickets++
		after := false
		for _, det := range incByAcc[tk.AccountID] {
			if !det.After(tk.CreatedAt) && !det.Before(tk.CreatedAt.Add(-30*24*time.Hour)) {
				after = true
			}
		}
		if after {
			tt.AfterIncident30d++
		}
		if tk.SecurityRelated {
			tt.SecurityRelated++
			if after {
				tt.SecurityRelatedAfterIncident++
			}
		}
		if tk.SolvedAt != nil {
			tt.Solved++
		}
		if tk.CSATScore == nil {
			continue
		}
		tt.Rated++
		if after {
			tt.CSATAfterIncident = tt.CSATAfterIncident.add(*tk.CSATScore)
		} else {
			tt.CSATBaseline = tt.CSATBaseline.add(*tk.CSATScore)
			if _, ok := incByAcc[tk.AccountID]; ok {
				tt.CSATAffectedBaseline = tt.CSATAffectedBaseline.add(*tk.CSATScore)
			}
		}
	}

	// findings
	ft := &out.Findings
	for _, f := range findings {
		ft.Findings++
		ft.BySeverityStatus[f.Severity][f.Status]++
		if reopened[f.FindingID] {
			ft.Reopened++
		}
		if f.SLAPolicyVersion == "" && f.SLADueAt != nil {
			ft.WithSLADueAt++
		}
		if f.Status == "open" && (f.Severity == "high" || f.Severity == "critical") && f.DetectedAt.Before(end.Add(-365*24*time.Hour)) {
			ft.SecurityDebt++
		}
		var owner *schemas.Service
		for _, s := range services {
			if s.ServiceID == f.ServiceID && !s.EffectiveAt.After(f.DetectedAt) && (owner == nil || !s.EffectiveAt.Before(owner.EffectiveAt)) {
				owner = s
			}
		}
		// The due date: as sent, else the transform's default policy.
		due := f.SLADueAt
		if due == nil {
			if d, ok := transform.DefaultSLAPolicy.For(f.Severity); ok {
				v := f.DetectedAt.Add(d)
				due = &v
			}
		}
		within := -1
		if due != nil {
			switch f.Status {
			case "fixed":
				within = 0
				if !f.FixedAt.After(*due) {
					within = 1
				}
			case "open":
				if due.Before(end) {
					within = 0
				}
			case "dismissed":
				if f.DismissedAt != nil && due.Before(*f.DismissedAt) {
					within = 0
				}
			}
		}
		add := func(s SLA) SLA {
			s.Findings++
			switch f.Status {
			case "open":
				s.Open++
			case "fixed":
				s.Fixed++
				s.FixSeconds += int64(f.FixedAt.Sub(f.DetectedAt) / time.Second)
			case "dismissed":
				s.Dismissed++
			}
			switch within {
			case 1:
				s.Within++
			case 0:
				s.Breached++
			default:
				s.NullSLA++
			}
			if s.Within+s.Breached > 0 {
				s.Compliance = float64(s.Within) / float64(s.Within+s.Breached)
			}
			return s
		}
		ft.ByTeam[owner.Team] = add(ft.ByTeam[owner.Team])
		ft.ByDepartment[owner.Department] = add(ft.ByDepartment[owner.Department])
	}
	return out
}

func upperMedian(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
