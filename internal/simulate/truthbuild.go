package simulate

import (
	"slices"
	"time"
)

// truthBuilder computes Truth from final entity states with the analyst
// contract's definitions. It never looks at how the generator planned an
// entity: only at the states that were emitted.
type truthBuilder struct {
	t   Truth
	end int64
	cat map[string][]catalogEntry // service -> upserts in effective order

	opps     []*Opportunity
	reviews  map[string]*Review
	deps     []depFact
	blocked  map[string]bool // service_id \x00 commit_sha with a failed blocking gate
	tickets  []ticketFact
	incByAcc map[string][]int64 // account -> detected_at of incidents affecting it
	// security_fix deployments are recorded before the finding they fix
	// (they are generated inside its lifecycle): finding -> finished_at.
	fixedBy  map[string][]int64
	fixLeads []int64
	// for DORA: every deployment's and incident's final state, and every
	// finding's detected_at.
	doraDeps []Deployment
	doraIncs []Incident
	detected map[string]int64
}

type catalogEntry struct {
	effective  int64
	team, dept string
}

type depFact struct {
	key  string
	lead int64 // seconds, -1 when no lead time
}

type ticketFact struct {
	account  string
	created  int64
	security bool
	csat     int64 // 0 = not rated
}

func newTruthBuilder(o Options, start, end int64) *truthBuilder {
	tb := &truthBuilder{
		end: end, cat: map[string][]catalogEntry{},
		reviews: map[string]*Review{}, blocked: map[string]bool{}, incByAcc: map[string][]int64{},
		fixedBy: map[string][]int64{}, detected: map[string]int64{},
	}
	t := &tb.t
	t.Seed, t.Days, t.Scale, t.Params = o.Seed, o.Days, o.Scale, o.Params
	t.Start, t.End = unix(start), unix(end)
	t.SLADays = map[string]int{}
	for k, v := range slaDays {
		t.SLADays[k] = v
	}
	t.Teams, t.Reorgs = []TeamInfo{}, []Reorg{}
	t.Delivery.InvalidByReason = map[string]int{}
	for _, r := range InvalidReasons {
		t.Delivery.InvalidByReason[r] = 0
	}
	t.Delivery.EventsByType = map[string]int{}
	t.Delivery.EntitiesByTable = map[string]int{}
	t.Deals.ByBucket = map[string]Rate{}
	t.Deals.BySegment = map[string]Rate{}
	t.Deals.BySegmentBucket = map[string]map[string]Rate{}
	t.Deals.ByLandmarkBucket = map[string]Rate{}
	t.Deals.BySegmentLandmarkBucket = map[string]map[string]Rate{}
	t.Deals.ByOutcome = map[string]int{"won": 0, "lost": 0, "no_decision": 0}
	t.Deals.RevenueLostBySegment = map[string]float64{}
	t.Deals.CycleSecondsByBucket = map[string]int64{}
	for _, s := range Segments {
		t.Deals.BySegment[s] = Rate{}
		t.Deals.RevenueLostBySegment[s] = 0
		t.Deals.BySegmentBucket[s] = map[string]Rate{}
		t.Deals.BySegmentLandmarkBucket[s] = map[string]Rate{}
		for _, b := range Buckets {
			t.Deals.BySegmentBucket[s][b] = Rate{}
			t.Deals.BySegmentLandmarkBucket[s][b] = Rate{}
		}
	}
	for _, b := range Buckets {
		t.Deals.ByBucket[b] = Rate{}
		t.Deals.ByLandmarkBucket[b] = Rate{}
		t.Deals.CycleSecondsByBucket[b] = 0
	}
	t.Deployments.ByStatus = map[string]int{}
	t.Deployments.ByTrigger = map[string]int{}
	t.Deployments.ByEnvironment = map[string]int{}
	t.Deployments.GateRunsByResult = map[string]int{"pass": 0, "fail": 0, "waived": 0}
	t.Findings.BySeverityStatus = map[string]map[string]int{}
	for _, s := range severities {
		t.Findings.BySeverityStatus[s] = map[string]int{"open": 0, "fixed": 0, "dismissed": 0}
	}
	t.Findings.ByTeam = map[string]SLA{}
	for _, ts := range teamSpecs {
		t.Findings.ByTeam[ts.name] = SLA{}
	}
	t.Findings.ByDepartment = map[string]SLA{}
	t.Departments = map[string]DepartmentTruth{}
	for _, d := range Departments {
		t.Departments[d] = DepartmentTruth{}
	}
	return tb
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func (tb *truthBuilder) validEvent(typ string) {
	tb.t.Delivery.ValidEvents++
	tb.t.Delivery.EventsByType[typ]++
}

func (tb *truthBuilder) invalid(reason string) {
	tb.t.Delivery.Invalid++
	tb.t.Delivery.InvalidByReason[reason]++
}

func (tb *truthBuilder) catalog(id, team, dept string, effective int64) {
	if len(tb.cat[id]) == 0 {
		tb.t.Delivery.EntitiesByTable["service_events"]++
	}
	tb.cat[id] = append(tb.cat[id], catalogEntry{effective, team, dept})
}

// ownerAt returns the service's team and department as of t: the upsert
// with the latest effective_at <= t.
func (tb *truthBuilder) ownerAt(service string, t int64) (string, string) {
	team, dept, best := "", "", int64(-1<<62)
	for _, c := range tb.cat[service] {
		if c.effective <= t && c.effective >= best {
			team, dept, best = c.team, c.dept, c.effective
		}
	}
	return team, dept
}

// findingSLA returns sla_due_at (0 = none) and within_sla (-1 = null) of a
// finding's final state as of asOf.
func findingSLA(f *Finding, asOf int64) (due int64, within int8) {
	due = f.SLADue
	if due == 0 {
		if d, ok := slaDays[f.Severity]; ok {
			due = f.Detected + int64(d)*daySec
		}
	}
	if due == 0 {
		return 0, -1
	}
	switch f.Status {
	case "fixed":
		if f.Fixed <= due {
			return due, 1
		}
		return due, 0
	case "open":
		if due < asOf {
			return due, 0
		}
	case "dismissed":
		if due < f.Dismissed {
			return due, 0 // dismissed when already overdue: missed
		}
	}
	return due, -1
}

func (tb *truthBuilder) finding(f *Finding) {
	ft := &tb.t.Findings
	ft.Findings++
	tb.t.Delivery.EntitiesByTable["finding_events"]++
	ft.BySeverityStatus[f.Severity][f.Status]++
	if f.Reopened {
		ft.Reopened++
	}
	if f.SLADue != 0 {
		ft.WithSLADueAt++
	}
	if f.Status == "open" && (f.Severity == "high" || f.Severity == "critical") && f.Detected < tb.end-365*daySec {
		ft.SecurityDebt++
	}
	tb.detected[f.ID] = f.Detected
	for _, fin := range tb.fixedBy[f.ID] {
		tb.fixLeads = append(tb.fixLeads, fin-f.Detected)
	}
	delete(tb.fixedBy, f.ID)
	team, dept := tb.ownerAt(f.ServiceID, f.Detected)
	_, within := findingSLA(f, tb.end)
	add := func(s SLA) SLA {
		s.Findings++
		switch f.Status {
		case "open":
			s.Open++
		case "fixed":
			s.Fixed++
			s.FixSeconds += f.Fixed - f.Detected
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
	ft.ByTeam[team] = add(ft.ByTeam[team])
	ft.ByDepartment[dept] = add(ft.ByDepartment[dept])
}

func (tb *truthBuilder) incident(in *Incident) {
	it := &tb.t.Incidents
	it.Incidents++
	tb.t.Delivery.EntitiesByTable["incident_events"]++
	if in.Status == "resolved" {
		it.Resolved++
	}
	for _, a := range in.Accounts {
		tb.incByAcc[a] = append(tb.incByAcc[a], in.Detected)
	}
	tb.doraIncs = append(tb.doraIncs, *in)
	for _, d := range in.Depts {
		dt := tb.t.Departments[d]
		dt.Incidents++
		if in.CostUSD >= 0 {
			dt.IncidentCostUSD += in.CostUSD / float64(len(in.Depts))
		}
		tb.t.Departments[d] = dt
	}
	if in.CostUSD >= 0 {
		it.CostUSD += in.CostUSD
		if len(in.Depts) == 0 {
			it.UnattributedCostUSD += in.CostUSD
		}
	}
}

func (tb *truthBuilder) exception(e *Exception) {
	tb.t.Delivery.EntitiesByTable["policy_exception_events"]++
	dt := tb.t.Departments[e.Dept]
	dt.PolicyExceptions++
	if e.Resolved == 0 {
		dt.PolicyExceptionsOpen++
	} else {
		dt.PolicyExceptionResolvedSeconds += e.Resolved - e.Opened
	}
	tb.t.Departments[e.Dept] = dt
}

func (tb *truthBuilder) assessment(a *Assessment) {
	tb.t.Delivery.EntitiesByTable["vendor_assessment_events"]++
	dt := tb.t.Departments[a.Dept]
	dt.VendorAssessments++
	if a.Cost >= 0 {
		dt.VendorAssessmentCostUSD += a.Cost
	}
	if a.Completed != 0 {
		dt.VendorAssessmentsCompleted++
		dt.VendorCycleSeconds += a.Completed - a.Requested
	}
	if a.Monitoring >= 0 {
		dt.VendorMonitoringCostUSD += a.Monitoring
	}
	tb.t.Departments[a.Dept] = dt
}

func (tb *truthBuilder) gate(g *Gate) {
	d := &tb.t.Deployments
	tb.t.Delivery.EntitiesByTable["gate_events"]++
	d.GateRuns++
	d.GateRunsByResult[g.Result]++
	if g.Blocking && g.Result == "fail" {
		d.GateBlockingFails++
		tb.blocked[g.ServiceID+"\x00"+g.Commit] = true
	}
	if g.Blocking && g.Result == "waived" {
		d.GateBlockingWaived++
	}
}

func (tb *truthBuilder) deployment(dp *Deployment) {
	d := &tb.t.Deployments
	tb.t.Delivery.EntitiesByTable["deployment_events"]++
	d.Deployments++
	d.ByStatus[dp.Status]++
	d.ByTrigger[dp.Trigger]++
	d.ByEnvironment[dp.Env]++
	d.GateWaitSeconds += dp.GateWait
	if dp.Trigger == "security_fix" {
		d.SecurityFix++
		if dp.Finished != 0 && dp.Env == "production" && dp.Status == "success" { // shipped (metric 11)
			for _, id := range dp.Fixes {
				tb.fixedBy[id] = append(tb.fixedBy[id], dp.Finished)
			}
		}
	}
	lead := int64(-1)
	if dp.Finished != 0 {
		d.Finished++
		if dp.FirstCommit != 0 {
			lead = dp.Finished - dp.FirstCommit
		}
	}
	tb.deps = append(tb.deps, depFact{key: dp.ServiceID + "\x00" + dp.Commit, lead: lead})
	tb.doraDeps = append(tb.doraDeps, *dp)
}

func (tb *truthBuilder) opportunity(op *Opportunity) {
	tb.t.Delivery.EntitiesByTable["opportunity_events"]++
	tb.opps = append(tb.opps, op)
}

func (tb *truthBuilder) review(rv *Review) {
	tb.t.Delivery.EntitiesByTable["review_events"]++
	tb.reviews[rv.ID] = rv
}

func (tb *truthBuilder) ticket(tk *Ticket) {
	tb.t.Delivery.EntitiesByTable["ticket_events"]++
	tb.tickets = append(tb.tickets, ticketFact{account: tk.AccountID, created: tk.Created, security: tk.SecurityRelated, csat: tk.CSAT})
	if tk.Solved != 0 {
		tb.t.Tickets.Solved++
	}
}

// finish computes the cross-entity figures once every final state is known.
func (tb *truthBuilder) finish() *Truth {
	t := &tb.t
	tb.finishDeals()
	tb.finishDeployments()
	tb.finishDORA()
	tb.finishTickets()
	for d, dt := range t.Departments {
		dt.CostOfRiskUSD = dt.IncidentCostUSD + dt.VendorAssessmentCostUSD + dt.VendorMonitoringCostUSD
		t.Departments[d] = dt
	}
	return t
}

func (tb *truthBuilder) finishDeals() {
	dt := &tb.t.Deals
	var turn []int64
	for _, rv := range tb.reviews {
		tb.t.Reviews.Reviews++
		if rv.Status == "completed" && rv.Completed != 0 {
			tb.t.Reviews.Completed++
			turn = append(turn, rv.Completed-rv.Requested)
			tb.t.Reviews.TurnaroundSeconds += rv.Completed - rv.Requested
		}
	}
	tb.t.Reviews.TurnaroundMedianDays = float64(medianExact(turn)) / daySec
	for _, op := range tb.opps {
		dt.Opportunities++
		if op.Outcome == "open" {
			dt.Open++
			continue
		}
		dt.Closed++
		dt.ByOutcome[op.Outcome]++
		dt.AmountUSD += op.AmountUSD
		var requested, completed int64
		if rv := tb.reviews[op.ReviewID]; rv != nil && op.ReviewID != "" {
			requested = rv.Requested
			if rv.Status == "completed" {
				completed = rv.Completed
			}
		}
		if op.ReviewRequired {
			dt.ReviewRequired++
		}
		b := bucketOf(op.ReviewRequired, requested, completed, op.Closed)
		dt.ByBucket[b] = dt.ByBucket[b].add(op.Outcome)
		dt.BySegment[op.Segment] = dt.BySegment[op.Segment].add(op.Outcome)
		dt.BySegmentBucket[op.Segment][b] = dt.BySegmentBucket[op.Segment][b].add(op.Outcome)
		dt.CycleSecondsByBucket[b] += op.Closed - op.Created
		lb := landmarkOf(op.ReviewRequired, requested, completed, op.Closed)
		dt.ByLandmarkBucket[lb] = dt.ByLandmarkBucket[lb].add(op.Outcome)
		dt.BySegmentLandmarkBucket[op.Segment][lb] = dt.BySegmentLandmarkBucket[op.Segment][lb].add(op.Outcome)
		if op.Outcome == "lost" && op.LossReason == "security" {
			dt.LostSecurity++
			dt.RevenueLostSecurityUSD += op.AmountUSD
			dt.RevenueLostBySegment[op.Segment] += op.AmountUSD
		}
	}
	dt.FastMinusSlowPooled = dt.ByLandmarkBucket[BucketFast].WinRate - dt.ByLandmarkBucket[BucketSlow].WinRate
	dt.FastMinusSlowStratified = mantelHaenszelRD(dt.BySegmentLandmarkBucket)
}

func (r Rate) add(outcome string) Rate {
	r.N++
	switch outcome {
	case "won":
		r.Won++
	case "lost":
		r.Lost++
	case "no_decision":
		r.NoDecision++
	}
	r.WinRate = float64(r.Won) / float64(r.N)
	return r
}

// mantelHaenszelRD is the Mantel-Haenszel risk difference of fast vs slow
// win rates over segments (fixed segment order, so the float sum is
// reproducible).
func mantelHaenszelRD(bySeg map[string]map[string]Rate) float64 {
	var num, den float64
	for _, s := range Segments {
		f, sl := bySeg[s][BucketFast], bySeg[s][BucketSlow]
		if f.N == 0 || sl.N == 0 {
			continue
		}
		w := float64(f.N) * float64(sl.N) / float64(f.N+sl.N)
		num += w * (f.WinRate - sl.WinRate)
		den += w
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// medianExact is ClickHouse quantileExact(0.5): the element at index n/2 of
// the sorted values (0 for none).
func medianExact(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func (tb *truthBuilder) finishDeployments() {
	d := &tb.t.Deployments
	var blocked, unblocked []int64
	for _, f := range tb.deps {
		b := tb.blocked[f.key]
		if b {
			d.GateBlocked++
		}
		if f.lead < 0 {
			continue
		}
		if b {
			blocked = append(blocked, f.lead)
		} else {
			unblocked = append(unblocked, f.lead)
		}
	}
	d.LeadTimeBlocked = leadTime(blocked)
	d.LeadTimeUnblocked = leadTime(unblocked)
	d.SecurityFixLead = leadTime(tb.fixLeads)
}

func leadTime(v []int64) LeadTime {
	lt := LeadTime{N: len(v)}
	for _, x := range v {
		lt.Seconds += x
	}
	if lt.N > 0 {
		lt.MeanHours = float64(lt.Seconds) / float64(lt.N) / 3600
		lt.MedianHours = float64(medianExact(v)) / 3600
	}
	return lt
}

func (tb *truthBuilder) finishTickets() {
	tt := &tb.t.Tickets
	affected := map[string]bool{}
	for a := range tb.incByAcc {
		affected[a] = true
	}
	tb.t.Incidents.AffectedAccounts = len(affected)
	for _, tk := range tb.tickets {
		tt.Tickets++
		after := false
		for _, det := range tb.incByAcc[tk.account] {
			if det <= tk.created && det >= tk.created-30*daySec {
				after = true
				break
			}
		}
		if after {
			tt.AfterIncident30d++
		}
		if tk.security {
			tt.SecurityRelated++
			if after {
				tt.SecurityRelatedAfterIncident++
			}
		}
		if tk.csat == 0 {
			continue
		}
		tt.Rated++
		switch {
		case after:
			tt.CSATAfterIncident = tt.CSATAfterIncident.add(tk.csat)
		default:
			tt.CSATBaseline = tt.CSATBaseline.add(tk.csat)
			if affected[tk.account] {
				tt.CSATAffectedBaseline = tt.CSATAffectedBaseline.add(tk.csat)
			}
		}
	}
}

func (m Mean) add(v int64) Mean {
	m.N++
	m.Sum += float64(v)
	m.Mean = m.Sum / float64(m.N)
	return m
}
