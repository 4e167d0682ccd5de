package simulate

import (
	"fmt"
	"math"
	"sort"
)

// --- incidents ---------------------------------------------------------

// Incident is an incident's state.
type Incident struct {
	ID, Severity, Category, Status string
	Services, Accounts, Depts      []string
	Records                        int64   // < 0 absent
	Notified                       int8    // -1 absent
	CostUSD                        float64 // < 0 absent
	Detected, Resolved             int64
}

func (in *Incident) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("incident_id", in.ID)
	o.str("severity", in.Severity)
	o.str("category", in.Category)
	o.str("status", in.Status)
	o.strs("affected_service_ids", in.Services)
	o.strs("affected_account_ids", in.Accounts)
	if in.Depts != nil {
		o.strs("contributing_departments", in.Depts)
	}
	if in.Records >= 0 {
		o.int("records_exposed", in.Records)
	}
	if in.Notified >= 0 {
		o.bool("customer_notified", in.Notified == 1)
	}
	if in.CostUSD >= 0 {
		o.float("cost_usd", in.CostUSD)
	}
	o.time("detected_at", in.Detected)
	o.optTime("resolved_at", in.Resolved)
	return o.close()
}

// affectedAccounts is the [min, max) number of accounts an incident of each
// severity affects.
var affectedAccounts = map[string][2]int{"low": {0, 4}, "medium": {2, 11}, "high": {5, 26}, "critical": {10, 61}}

var deptRiskWeights = []float64{3, 1, 2, 1.5, 1.5, 0.5, 0.5, 0.5, 0.3} // aligned with Departments

func (g *gen) incidentsDay(day int64) {
	r := g.rSec
	n := poisson(r, 0.12*g.scale)
	for i := 0; i < n; i++ {
		g.incident(day + r.Int64N(daySec))
	}
}

func (g *gen) incident(t0 int64) {
	r := g.rSec
	g.nIncident++
	in := &Incident{
		ID:       fmt.Sprintf("INC-%06d", g.nIncident),
		Severity: pick(r, []string{"critical", "high", "medium", "low"}, []float64{0.1, 0.3, 0.4, 0.2}),
		Category: pick(r, []string{"data_exposure", "account_takeover", "malware", "ddos", "misconfiguration", "vendor_breach"}, nil),
		Status:   "open", Records: -1, Notified: -1, CostUSD: -1, Detected: t0,
	}
	ns := 1 + r.IntN(3)
	for _, i := range r.Perm(len(g.org.services))[:ns] {
		in.Services = append(in.Services, g.org.services[i].ID)
	}
	sort.Strings(in.Services)
	span := affectedAccounts[in.Severity]
	na := span[0] + r.IntN(span[1]-span[0])
	if na > len(g.org.accounts) {
		na = len(g.org.accounts)
	}
	var all []string
	for _, i := range r.Perm(len(g.org.accounts))[:na] {
		all = append(all, g.org.accounts[i].ID)
	}
	first := all[:len(all)/2]
	in.Accounts = append([]string{}, first...)
	sort.Strings(in.Accounts)

	l := life{end: g.end}
	emit := func(typ string, t int64) bool {
		t, ok := l.at(t)
		if !ok {
			return false
		}
		g.scratch = in.data(g.scratch[:0])
		g.event(&l, typ, "impact-sim/incident-mgmt", in.ID, t, g.scratch)
		return true
	}
	defer func() { g.tb.incident(in); g.incidentTickets(in) }()
	if !emit("security.incident.detected", t0) {
		return
	}
	// Contained: the full list of affected accounts is known.
	prev := in.Accounts
	in.Status = "contained"
	in.Accounts = append([]string{}, all...)
	sort.Strings(in.Accounts)
	if !emit("security.incident.updated", t0+hours(2+46*r.Float64())) {
		in.Status, in.Accounts = "open", prev
		return
	}
	// Resolved with the post-incident review: cost and who contributed.
	in.Status = "resolved"
	tr := t0 + days(1+19*r.Float64())
	in.Resolved, _ = l.peek(tr)
	median := map[string]float64{"low": 5e3, "medium": 3e4, "high": 1.5e5, "critical": 6e5}[in.Severity]
	// multiples of 60 USD, so splitting over up to 6 departments is exact
	in.CostUSD = 60 * math.Round(lognormal(r, median, 0.7)/60)
	if r.Float64() >= 0.1 {
		k := 1 + r.IntN(3)
		in.Depts = []string{}
		for len(in.Depts) < k {
			d := pick(r, Departments, deptRiskWeights)
			if !contains(in.Depts, d) {
				in.Depts = append(in.Depts, d)
			}
		}
	}
	if in.Category == "data_exposure" {
		in.Records = int64(lognormal(r, 5000, 1.5))
	}
	in.Notified = 0
	if len(in.Accounts) > 0 && r.Float64() < 0.6 {
		in.Notified = 1
	}
	if !emit("security.incident.resolved", tr) {
		in.Status, in.Resolved, in.CostUSD, in.Depts, in.Records, in.Notified = "contained", 0, -1, nil, -1, -1
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// --- policy exceptions -------------------------------------------------

// Exception is a policy exception's state.
type Exception struct {
	ID, Dept, Kind, Tier, Desc string
	Opened, Resolved           int64
}

func (e *Exception) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("exception_id", e.ID)
	o.str("department", e.Dept)
	o.str("kind", e.Kind)
	o.str("risk_tier", e.Tier)
	o.optStr("description", e.Desc)
	o.time("opened_at", e.Opened)
	o.optTime("resolved_at", e.Resolved)
	return o.close()
}

var deptExceptionWeights = []float64{2, 1.5, 1, 3, 3, 1, 1, 1, 0.5}

func (g *gen) exceptionsDay(day int64) {
	r := g.rSec
	n := poisson(r, 0.5*g.scale)
	for i := 0; i < n; i++ {
		g.nExc++
		e := &Exception{
			ID:     fmt.Sprintf("PEX-%06d", g.nExc),
			Dept:   pick(r, Departments, deptExceptionWeights),
			Kind:   pick(r, []string{"unsanctioned_saas", "regulated_data_sharing", "tool_without_assessment", "other"}, []float64{0.45, 0.2, 0.25, 0.1}),
			Tier:   pick(r, []string{"critical", "high", "medium", "low"}, []float64{0.05, 0.25, 0.45, 0.25}),
			Opened: day + r.Int64N(daySec),
		}
		e.Desc = e.Kind + " in " + e.Dept
		l := life{end: g.end}
		if t, ok := l.at(e.Opened); ok {
			g.scratch = e.data(g.scratch[:0])
			g.event(&l, "security.policy_exception.opened", "impact-sim/grc", e.ID, t, g.scratch)
			if r.Float64() < 0.7 {
				if t, ok := l.at(e.Opened + days(lognormal(r, 40, 0.9))); ok {
					e.Resolved = t
					g.scratch = e.data(g.scratch[:0])
					g.event(&l, "security.policy_exception.resolved", "impact-sim/grc", e.ID, t, g.scratch)
				}
			}
			g.tb.exception(e)
		}
	}
}

// --- vendor assessments ------------------------------------------------

// Assessment is a vendor assessment's state.
type Assessment struct {
	ID, VendorID, VendorName, Dept, Tier, Status, Decision string
	Requested, Completed                                   int64
	Cost, Monitoring                                       float64 // < 0 absent
}

func (a *Assessment) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("assessment_id", a.ID)
	o.str("vendor_id", a.VendorID)
	o.optStr("vendor_name", a.VendorName)
	o.str("department", a.Dept)
	o.str("risk_tier", a.Tier)
	o.str("status", a.Status)
	o.optStr("decision", a.Decision)
	o.time("requested_at", a.Requested)
	o.optTime("completed_at", a.Completed)
	if a.Cost >= 0 {
		o.float("assessment_cost_usd", a.Cost)
	}
	if a.Monitoring >= 0 {
		o.float("annual_monitoring_cost_usd", a.Monitoring)
	}
	return o.close()
}

var deptVendorWeights = []float64{2.5, 1.5, 1, 2.5, 3, 1.5, 1.2, 1, 0.6}

func (g *gen) vendorsDay(day int64) {
	r := g.rSec
	n := poisson(r, 0.6*g.scale)
	for i := 0; i < n; i++ {
		g.nVA++
		v := g.org.vendors[r.IntN(len(g.org.vendors))]
		a := &Assessment{
			ID: fmt.Sprintf("VA-%06d", g.nVA), VendorID: v.ID, VendorName: v.Name,
			Dept:   pick(r, Departments, deptVendorWeights),
			Tier:   pick(r, []string{"critical", "high", "medium", "low"}, []float64{0.1, 0.3, 0.4, 0.2}),
			Status: "requested", Requested: day + r.Int64N(daySec), Cost: -1, Monitoring: -1,
		}
		l := life{end: g.end}
		t, ok := l.at(a.Requested)
		if !ok {
			continue
		}
		g.scratch = a.data(g.scratch[:0])
		g.event(&l, "security.vendor_assessment.requested", "impact-sim/vendor-risk", a.ID, t, g.scratch)
		if r.Float64() < 0.9 {
			base := map[string]float64{"critical": 12000, "high": 6000, "medium": 2500, "low": 800}[a.Tier]
			tc := a.Requested + days(lognormal(r, 12, 0.6))
			if t, ok := l.at(tc); ok {
				a.Status, a.Completed = "completed", t
				a.Decision = pick(r, []string{"approved", "approved_with_conditions", "rejected"}, []float64{0.6, 0.25, 0.15})
				a.Cost = math.Round(base * (0.7 + 0.6*r.Float64()))
				if a.Decision != "rejected" {
					a.Monitoring = math.Round(base * 1.5 * (0.5 + r.Float64()))
				}
				g.scratch = a.data(g.scratch[:0])
				g.event(&l, "security.vendor_assessment.completed", "impact-sim/vendor-risk", a.ID, t, g.scratch)
			}
		}
		g.tb.assessment(a)
	}
}
