package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// --- catalog -----------------------------------------------------------

// catalogLead is how long before Start the initial catalog is effective:
// older than the oldest backlog finding, so every finding has a team.
const catalogLead = 1100 * daySec

type serviceState struct {
	*service
	effective int64
}

func (s *serviceState) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("service_id", s.ID)
	o.str("service_name", s.Name)
	o.str("team", s.Team)
	o.str("department", s.Dept)
	o.str("product", s.Product)
	o.str("tier", s.Tier)
	o.bool("internet_facing", s.Internet)
	o.time("effective_at", s.effective)
	return o.close()
}

// catalog emits the initial catalog and plans the re-organisations.
func (g *gen) catalog() {
	t0 := g.start - catalogLead
	for _, s := range g.org.services {
		g.upsert(s, t0)
	}
	for i, t := range teamSpecs {
		n := 0
		for _, s := range g.org.services {
			if s.team == i {
				n++
			}
		}
		g.tb.t.Teams = append(g.tb.t.Teams, TeamInfo{Team: t.name, Department: t.dept, FixFactor: t.fix, Services: n})
	}
}

// reorgs: a service changes team (and department) mid-window; findings
// detected before keep the old team ("department as of detection").
var reorgPlan = []struct {
	service, toTeam string
	frac            float64 // of the window
}{
	{"svc-recommendations", "ml", 0.5},
	{"svc-status-page", "platform", 0.66},
}

func (g *gen) catalogDay(day int64) error {
	next := day + daySec
	for _, rp := range reorgPlan {
		at := g.start + int64(rp.frac*float64(g.end-g.start))
		if at < day || at >= next {
			continue
		}
		s, err := g.serviceByID(rp.service)
		if err != nil {
			return fmt.Errorf("reorg plan: %w", err)
		}
		ti, err := teamIndex(rp.toTeam)
		if err != nil {
			return fmt.Errorf("reorg plan: %w", err)
		}
		g.tb.t.Reorgs = append(g.tb.t.Reorgs, Reorg{ServiceID: s.ID, Effective: unix(at),
			FromTeam: s.Team, FromDepartment: s.Dept, ToTeam: teamSpecs[ti].name, ToDepartment: teamSpecs[ti].dept})
		s.team, s.Team, s.Dept = ti, teamSpecs[ti].name, teamSpecs[ti].dept
		g.upsert(s, at)
	}
	// A tier change that moves nobody: state changes without a re-org.
	if at := g.start + (g.end-g.start)/4; at >= day && at < next {
		s, err := g.serviceByID("svc-payments-api")
		if err != nil {
			return fmt.Errorf("tier change: %w", err)
		}
		s.Tier = "critical"
		g.upsert(s, at)
	}
	return nil
}

func (g *gen) upsert(s *service, at int64) {
	st := serviceState{service: s, effective: at}
	g.tb.catalog(s.ID, s.Team, s.Dept, at)
	g.scratch = st.data(g.scratch[:0])
	l := g.catLife[s.ID]
	if l == nil {
		l = &life{last: -1 << 62, end: g.end}
		g.catLife[s.ID] = l
	}
	at, _ = l.at(at)
	g.event(l, "catalog.service.upserted", "impact-sim/catalog", s.ID, at, g.scratch)
}

func (g *gen) serviceByID(id string) (*service, error) {
	for _, s := range g.org.services {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown service %s", id)
}

func teamIndex(name string) (int, error) {
	for i, t := range teamSpecs {
		if t.name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown team %s", name)
}

// --- findings ----------------------------------------------------------

var scanners = []struct {
	name, category string
	weight         float64
	source         string
}{
	{"snyk", "sca", 0.32, "impact-sim/snyk"}, {"semgrep", "sast", 0.2, "impact-sim/semgrep"},
	{"zap", "dast", 0.08, "impact-sim/zap"}, {"trivy", "container", 0.18, "impact-sim/trivy"},
	{"prowler", "cloud", 0.12, "impact-sim/prowler"}, {"gitleaks", "secret", 0.04, "impact-sim/gitleaks"},
	{"pentest-vendor", "pentest", 0.03, "impact-sim/pentest-vendor"}, {"bug-bounty", "other", 0.03, "impact-sim/bug-bounty"},
}

var severities = []string{"critical", "high", "medium", "low", "info"}

// slaDays is the default remediation policy of the design brief.
var slaDays = map[string]int{"critical": 15, "high": 30, "medium": 90, "low": 180}

// pentestSLADays: pentest reports carry a contractual due date (sla_due_at
// present in the event), which wins over the policy.
const pentestSLADays = 45

// Finding is a finding's state (event-carried). Times are unix seconds,
// 0 = absent.
type Finding struct {
	ID, Scanner, Category, Title, CVE, CWE, Severity string
	CVSS, EPSS                                       float64 // < 0 = absent
	KEV                                              int8    // -1 absent, 0 false, 1 true
	ServiceID, Repo, Status                          string
	Detected, Fixed, Dismissed                       int64
	DismissedReason                                  string
	SLADue                                           int64 // as sent; 0 = derive from policy
	Internet                                         int8  // -1 absent
	Reopened                                         bool  // has a reopened event (not a data field)
}

func (f *Finding) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("finding_id", f.ID)
	o.str("scanner", f.Scanner)
	o.str("category", f.Category)
	o.optStr("title", f.Title)
	o.optStr("cve_id", f.CVE)
	o.optStr("cwe_id", f.CWE)
	o.str("severity", f.Severity)
	if f.CVSS >= 0 {
		o.float("cvss", f.CVSS)
	}
	if f.EPSS >= 0 {
		o.float("epss", f.EPSS)
	}
	if f.KEV >= 0 {
		o.bool("kev", f.KEV == 1)
	}
	o.str("service_id", f.ServiceID)
	o.optStr("repo", f.Repo)
	o.str("status", f.Status)
	o.time("detected_at", f.Detected)
	o.optTime("fixed_at", f.Fixed)
	o.optTime("dismissed_at", f.Dismissed)
	o.optStr("dismissed_reason", f.DismissedReason)
	o.optTime("sla_due_at", f.SLADue)
	if f.Internet >= 0 {
		o.bool("internet_facing", f.Internet == 1)
	}
	return o.close()
}

// backlog emits old findings detected before the window (security debt).
func (g *gen) backlog() {
	r := g.rSec
	n := poisson(r, 150*g.scale)
	for i := 0; i < n; i++ {
		t := g.start - days(30+700*r.Float64())
		g.finding(t, g.org.services[r.IntN(len(g.org.services))], 3)
	}
}

func (g *gen) findingsDay(day int64) {
	r := g.rSec
	n := poisson(r, 70*g.scale)
	for i := 0; i < n; i++ {
		g.finding(day+r.Int64N(daySec), g.org.services[r.IntN(len(g.org.services))], 1)
	}
}

// finding generates one finding's lifecycle from detection at t0; slow
// multiplies the fix time (the backlog is the stuff nobody fixed).
func (g *gen) finding(t0 int64, s *service, slow float64) {
	r := g.rSec
	g.nFinding++
	sc := scanners[pickIdx(r, len(scanners), func(i int) float64 { return scanners[i].weight })]
	f := &Finding{
		ID: fmt.Sprintf("FND-%08d", g.nFinding), Scanner: sc.name, Category: sc.category,
		Severity: pick(r, severities, []float64{0.03, 0.15, 0.4, 0.3, 0.12}),
		CVSS:     -1, EPSS: -1, KEV: -1, Internet: -1,
		ServiceID: s.ID, Status: "open", Detected: t0,
	}
	switch sc.category {
	case "sca", "container":
		f.CVE = fmt.Sprintf("CVE-%d-%d", 2018+r.IntN(8), 1000+r.IntN(50000))
		f.CVSS = math.Round((2+8*r.Float64())*10) / 10
		f.EPSS = math.Round(r.Float64()*r.Float64()*10000) / 10000
		f.KEV = 0
		if r.Float64() < 0.02 {
			f.KEV = 1
		}
		f.Title = "Vulnerable dependency " + f.CVE
		f.Repo = s.Name
	case "sast", "secret":
		f.CWE = fmt.Sprintf("CWE-%d", []int{79, 89, 22, 78, 798, 502, 352, 287}[r.IntN(8)])
		f.Title = "Code weakness " + f.CWE
		f.Repo = s.Name
	case "dast", "pentest", "other":
		f.Title = "Exploitable issue in " + s.Name
		f.Internet = 0
		if s.Internet {
			f.Internet = 1
		}
	case "cloud":
		f.Title = "Cloud misconfiguration"
		// cloud scanners send the policy due date themselves
		if d, ok := slaDays[f.Severity]; ok {
			f.SLADue = t0 + int64(d)*daySec
		}
	}
	if sc.category == "pentest" && f.Severity != "info" {
		f.SLADue = t0 + pentestSLADays*daySec
	}
	team := teamSpecs[s.team] // owner as of detection
	l := life{end: g.end}
	emit := func(typ string, t int64) bool {
		t, ok := l.at(t)
		if !ok {
			return false
		}
		g.scratch = f.data(g.scratch[:0])
		g.event(&l, typ, sc.source, f.ID, t, g.scratch)
		return true
	}
	defer func() { g.tb.finding(f) }()
	if !emit("security.finding.opened", t0) {
		return
	}
	sla := float64(slaDays[f.Severity])
	if sla == 0 {
		sla = 120
	}
	fix := t0 + days(lognormal(r, team.fix*sla*slow, 0.8))
	if slow > 1 && r.Float64() < 0.5 {
		fix = math.MaxInt64 / 2 // the backlog's forgotten half: never fixed
	}
	dismiss := r.Float64() < 0.08
	if dismiss {
		fix = t0 + days(1+29*r.Float64())
	}
	if r.Float64() < 0.3 { // re-scored while open
		tu := t0 + (fix-t0)/3
		prev := *f
		f.EPSS = math.Round(r.Float64()*10000) / 10000
		if f.Category != "sca" && f.Category != "container" {
			f.EPSS = -1
			f.Title += " (confirmed)"
		}
		if !emit("security.finding.updated", tu) {
			*f = prev
			return
		}
	}
	if dismiss {
		f.Status = "dismissed"
		f.Dismissed, _ = l.peek(fix)
		f.DismissedReason = pick(r, []string{"false_positive", "accepted_risk", "not_applicable"}, nil)
		if !emit("security.finding.dismissed", fix) {
			f.Status, f.Dismissed, f.DismissedReason = "open", 0, ""
		}
		return
	}
	if fix > g.end {
		return
	}
	// Some fixes ship as a security_fix deployment finishing at fixed_at.
	switch f.Category {
	case "sca", "sast", "container", "secret":
		if r.Float64() < 0.35 {
			if done, ok := g.deployment(s, 0, fix, "security_fix", f.ID, "production", t0); ok {
				fix = done
			}
		}
	}
	f.Status = "fixed"
	f.Fixed, _ = l.peek(fix)
	if !emit("security.finding.fixed", fix) {
		f.Status, f.Fixed = "open", 0
		return
	}
	if r.Float64() >= 0.05 {
		return
	}
	// Reopened: the fix did not hold.
	reopen := f.Fixed + days(3+57*r.Float64())
	f.Status, f.Fixed = "open", 0
	f.Reopened = true
	if !emit("security.finding.reopened", reopen) {
		f.Status, f.Fixed, f.Reopened = "fixed", l.last, false
		return
	}
	if r.Float64() < 0.3 {
		return // stays open
	}
	refix := l.last + days(lognormal(r, team.fix*sla*0.5, 0.8))
	f.Status = "fixed"
	f.Fixed, _ = l.peek(refix)
	if !emit("security.finding.fixed", refix) {
		f.Status, f.Fixed = "open", 0
	}
}

// peek returns the time the next event would get, without taking it.
func (l *life) peek(t int64) (int64, bool) {
	if t <= l.last {
		t = l.last + 1
	}
	return t, t <= l.end
}

func pickIdx(r *rand.Rand, n int, w func(int) float64) int {
	total := 0.0
	for i := 0; i < n; i++ {
		total += w(i)
	}
	x := r.Float64() * total
	for i := 0; i < n; i++ {
		if x < w(i) {
			return i
		}
		x -= w(i)
	}
	return n - 1
}
