package simulate

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

const d = daySec

func TestBucketOf(t *testing.T) {
	const req = 1000 * d
	cases := []struct {
		name              string
		required          bool
		completed, closed int64
		want              string
	}{
		{"no review", false, 0, req + 9*d, BucketNone},
		{"never completed", true, 0, req + 9*d, BucketIncomplete},
		{"completed after close", true, req + 10*d, req + 9*d, BucketIncomplete},
		{"completed at close", true, req + 2*d, req + 2*d, BucketFast},
		{"exactly 5 days", true, req + 5*d, req + 30*d, BucketFast},
		{"5 days + 1s", true, req + 5*d + 1, req + 30*d, BucketMedium},
		{"exactly 15 days", true, req + 15*d, req + 30*d, BucketMedium},
		{"15 days + 1s", true, req + 15*d + 1, req + 30*d, BucketSlow},
	}
	for _, c := range cases {
		if got := bucketOf(c.required, req, c.completed, c.closed); got != c.want {
			t.Errorf("%s: bucket %s, want %s", c.name, got, c.want)
		}
	}
}

func TestFindingSLA(t *testing.T) {
	const det, asOf = 100 * d, 200 * d
	cases := []struct {
		name    string
		f       Finding
		wantDue int64
		want    int8
	}{
		{"fixed in time", Finding{Severity: "high", Status: "fixed", Detected: det, Fixed: det + 30*d}, det + 30*d, 1},
		{"fixed 1s late", Finding{Severity: "high", Status: "fixed", Detected: det, Fixed: det + 30*d + 1}, det + 30*d, 0},
		{"open overdue", Finding{Severity: "critical", Status: "open", Detected: det}, det + 15*d, 0},
		{"open not yet due", Finding{Severity: "low", Status: "open", Detected: det}, det + 180*d, -1},
		{"open due exactly now", Finding{Severity: "critical", Status: "open", Detected: asOf - 15*d}, asOf, -1},
		{"dismissed", Finding{Severity: "critical", Status: "dismissed", Detected: det, Dismissed: det + d}, det + 15*d, -1},
		{"info has no SLA", Finding{Severity: "info", Status: "fixed", Detected: det, Fixed: det + d}, 0, -1},
		{"sent due date wins", Finding{Severity: "low", Status: "fixed", Detected: det, Fixed: det + 50*d, SLADue: det + 45*d}, det + 45*d, 0},
	}
	for _, c := range cases {
		due, within := findingSLA(&c.f, asOf)
		if due != c.wantDue || within != c.want {
			t.Errorf("%s: due %d within %d, want %d %d", c.name, due, within, c.wantDue, c.want)
		}
	}
}

func TestAfterIncident(t *testing.T) {
	const created = 500 * d
	cases := []struct {
		name     string
		detected []int64
		want     string
	}{
		{"none", nil, ""},
		{"same second", []int64{created}, "i0"},
		{"exactly 30 days before", []int64{created - 30*d}, "i0"},
		{"30 days + 1s before", []int64{created - 30*d - 1}, ""},
		{"1s after", []int64{created + 1}, ""},
		{"latest qualifying", []int64{created - 20*d, created - 2*d, created + d}, "i1"},
	}
	for _, c := range cases {
		var refs []incRef
		for i, det := range c.detected {
			refs = append(refs, incRef{id: "i" + string(rune('0'+i)), detected: det})
		}
		id, ok := afterIncident(refs, created)
		if id != c.want || ok != (c.want != "") {
			t.Errorf("%s: %q %v, want %q", c.name, id, ok, c.want)
		}
	}
}

func TestMedianExact(t *testing.T) {
	cases := []struct {
		in   []int64
		want int64
	}{{nil, 0}, {[]int64{3}, 3}, {[]int64{1, 2}, 2}, {[]int64{5, 1, 3}, 3}, {[]int64{4, 1, 3, 2}, 3}}
	for _, c := range cases {
		if got := medianExact(append([]int64(nil), c.in...)); got != c.want {
			t.Errorf("median %v = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestMantelHaenszelRD(t *testing.T) {
	rate := func(n, won int) Rate { return Rate{N: n, Won: won, Lost: n - won, WinRate: float64(won) / float64(n)} }
	cases := []struct {
		name string
		seg  map[string]map[string]Rate
		want float64
	}{
		// w_smb = 10*10/20 = 5, diff .2; w_ent = 5*20/25 = 4, diff .2
		{"equal differences", map[string]map[string]Rate{
			"smb": {"fast": rate(10, 6), "slow": rate(10, 4)}, "enterprise": {"fast": rate(5, 2), "slow": rate(20, 4)}}, 0.2},
		// (5*.2 + 4*.4) / 9
		{"weighted", map[string]map[string]Rate{
			"smb": {"fast": rate(10, 6), "slow": rate(10, 4)}, "enterprise": {"fast": rate(5, 3), "slow": rate(20, 4)}}, 2.6 / 9},
		{"empty bucket ignored", map[string]map[string]Rate{
			"smb": {"fast": rate(10, 6), "slow": rate(10, 4)}, "enterprise": {"fast": rate(5, 3)}}, 0.2},
		{"nothing", map[string]map[string]Rate{}, 0},
	}
	for _, c := range cases {
		if got := mantelHaenszelRD(c.seg); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTinyOrganisation feeds hand-made final states to the truth builder
// and checks the figures worked out by hand.
func TestTinyOrganisation(t *testing.T) {
	start, end := int64(0), int64(200*d)
	tb := newTruthBuilder(Options{Days: 200}.withDefaults(), start, end)
	// svc-a moves from t1/Sales to t2/HR on day 100.
	tb.catalog("svc-a", "t1", "Sales", -1000*d)
	tb.catalog("svc-a", "t2", "HR", 100*d)
	// The security_fix deployment is recorded before the finding it fixes, as
	// the generator does.
	tb.deployment(&Deployment{ID: "d5", ServiceID: "svc-a", Commit: "c5", Env: "production", Status: "success", Trigger: "security_fix", FirstCommit: 69 * d, Finished: 70 * d, Fixes: []string{"f1"}})
	tb.finding(&Finding{ID: "f1", Severity: "high", Status: "fixed", ServiceID: "svc-a", Detected: 50 * d, Fixed: 70 * d})           // t1, within
	tb.finding(&Finding{ID: "f2", Severity: "critical", Status: "open", ServiceID: "svc-a", Detected: 100 * d})                      // t2 (effective = detected), overdue
	tb.finding(&Finding{ID: "f3", Severity: "low", Status: "open", ServiceID: "svc-a", Detected: 190 * d})                           // t2, not due
	tb.finding(&Finding{ID: "f4", Severity: "medium", Status: "dismissed", ServiceID: "svc-a", Detected: 10 * d, Dismissed: 11 * d}) // t1, null
	tb.finding(&Finding{ID: "f5", Severity: "high", Status: "open", ServiceID: "svc-a", Detected: -200 * d})                         // t1, overdue, debt (older than 365 days at end)

	tb.review(&Review{ID: "r2", Status: "completed", Requested: 10 * d, Completed: 13 * d})
	tb.review(&Review{ID: "r3", Status: "completed", Requested: 10 * d, Completed: 30 * d})
	tb.review(&Review{ID: "r5", Status: "in_progress", Requested: 10 * d})
	tb.opportunity(&Opportunity{ID: "o1", Segment: "smb", Outcome: "won", AmountUSD: 100, Created: 0, Closed: 10 * d})
	tb.opportunity(&Opportunity{ID: "o2", Segment: "smb", Outcome: "lost", LossReason: "security", AmountUSD: 1000, Created: 0, Closed: 20 * d, ReviewRequired: true, ReviewID: "r2"})
	tb.opportunity(&Opportunity{ID: "o3", Segment: "enterprise", Outcome: "won", AmountUSD: 5000, Created: 0, Closed: 40 * d, ReviewRequired: true, ReviewID: "r3"})
	tb.opportunity(&Opportunity{ID: "o4", Segment: "enterprise", Outcome: "open", AmountUSD: 7000, Created: 0})
	tb.opportunity(&Opportunity{ID: "o5", Segment: "mid_market", Outcome: "no_decision", AmountUSD: 10, Created: 0, Closed: 15 * d, ReviewRequired: true, ReviewID: "r5"})

	tb.gate(&Gate{ID: "g1", ServiceID: "svc-a", Commit: "c1", Result: "fail", Blocking: true})
	tb.gate(&Gate{ID: "g2", ServiceID: "svc-a", Commit: "c1", Result: "waived", Blocking: true})
	tb.gate(&Gate{ID: "g3", ServiceID: "svc-a", Commit: "c2", Result: "fail", Blocking: false})
	tb.gate(&Gate{ID: "g4", ServiceID: "svc-b", Commit: "c3", Result: "fail", Blocking: true}) // other service, same commit as nobody
	tb.deployment(&Deployment{ID: "d1", ServiceID: "svc-a", Commit: "c1", Status: "success", Trigger: "feature", FirstCommit: d, Finished: d + 30*3600, GateWait: 20 * 3600})
	tb.deployment(&Deployment{ID: "d2", ServiceID: "svc-a", Commit: "c2", Status: "success", Trigger: "feature", FirstCommit: d, Finished: d + 10*3600})
	tb.deployment(&Deployment{ID: "d3", ServiceID: "svc-a", Commit: "c3", Status: "failure", Trigger: "hotfix", FirstCommit: d, Finished: d + 4*3600})
	tb.deployment(&Deployment{ID: "d4", ServiceID: "svc-a", Commit: "c4", Status: "in_progress", Trigger: "feature", FirstCommit: d})

	tb.incident(&Incident{ID: "i1", Status: "resolved", Accounts: []string{"acc1"}, Depts: []string{"Sales", "HR"}, CostUSD: 600, Detected: 100 * d})
	tb.incident(&Incident{ID: "i2", Status: "open", Accounts: []string{}, CostUSD: -1, Detected: 150 * d})
	tb.ticket(&Ticket{ID: "t1", AccountID: "acc1", Created: 110 * d, Solved: 111 * d, CSAT: 2, SecurityRelated: true})
	tb.ticket(&Ticket{ID: "t2", AccountID: "acc1", Created: 140 * d, Solved: 141 * d, CSAT: 5})
	tb.ticket(&Ticket{ID: "t3", AccountID: "acc2", Created: 105 * d, CSAT: 4})
	tb.ticket(&Ticket{ID: "t4", AccountID: "acc2", Created: 106 * d})
	tb.exception(&Exception{ID: "e1", Dept: "Sales", Opened: d})
	tb.exception(&Exception{ID: "e2", Dept: "Sales", Opened: d, Resolved: 5 * d})
	tb.assessment(&Assessment{ID: "a1", Dept: "HR", Cost: 800, Monitoring: 1200, Requested: d, Completed: 11 * d})
	tb.assessment(&Assessment{ID: "a2", Dept: "HR", Cost: 500, Monitoring: -1})
	tr := tb.finish()

	type check struct {
		name      string
		got, want any
	}
	dl := tr.Deals
	dp := tr.Deployments
	tk := tr.Tickets
	fd := tr.Findings
	for _, c := range []check{
		{"closed", dl.Closed, 4}, {"open", dl.Open, 1}, {"review required", dl.ReviewRequired, 3},
		{"none", dl.ByBucket[BucketNone], Rate{N: 1, Won: 1, WinRate: 1}},
		{"fast", dl.ByBucket[BucketFast], Rate{N: 1, Lost: 1}},
		{"slow", dl.ByBucket[BucketSlow], Rate{N: 1, Won: 1, WinRate: 1}},
		{"incomplete", dl.ByBucket[BucketIncomplete], Rate{N: 1, NoDecision: 1}},
		{"enterprise slow", dl.BySegmentBucket["enterprise"][BucketSlow].N, 1},
		{"revenue lost", dl.RevenueLostSecurityUSD, 1000.0}, {"lost security", dl.LostSecurity, 1},
		{"amount", dl.AmountUSD, 6110.0}, {"pooled", dl.FastMinusSlowPooled, -1.0},
		{"cycle fast", dl.CycleSecondsByBucket[BucketFast], int64(20 * d)},
		{"reviews", tr.Reviews, ReviewTruth{Reviews: 3, Completed: 2, TurnaroundSeconds: 23 * d, TurnaroundMedianDays: 20}},
		{"deployments", dp.Deployments, 5}, {"finished", dp.Finished, 4}, {"gate blocked", dp.GateBlocked, 1},
		{"security fix lead", dp.SecurityFixLead, LeadTime{N: 1, Seconds: 20 * d, MeanHours: 480, MedianHours: 480}},
		{"blocked lead", dp.LeadTimeBlocked, LeadTime{N: 1, Seconds: 30 * 3600, MeanHours: 30, MedianHours: 30}},
		{"unblocked lead", dp.LeadTimeUnblocked, LeadTime{N: 3, Seconds: 38 * 3600, MeanHours: 38.0 / 3, MedianHours: 10}},
		{"blocking fails", dp.GateBlockingFails, 2}, {"blocking waived", dp.GateBlockingWaived, 1},
		{"gate wait", dp.GateWaitSeconds, int64(20 * 3600)},
		{"tickets", tk.Tickets, 4}, {"after incident", tk.AfterIncident30d, 1}, {"solved", tk.Solved, 2},
		{"security after", tk.SecurityRelatedAfterIncident, 1},
		{"csat after", tk.CSATAfterIncident, Mean{N: 1, Sum: 2, Mean: 2}},
		{"csat baseline", tk.CSATBaseline, Mean{N: 2, Sum: 9, Mean: 4.5}},
		{"csat affected baseline", tk.CSATAffectedBaseline, Mean{N: 1, Sum: 5, Mean: 5}},
		{"t1", fd.ByTeam["t1"], SLA{Findings: 3, Open: 1, Fixed: 1, Dismissed: 1, Within: 1, Breached: 1, NullSLA: 1, Compliance: 0.5, FixSeconds: 20 * d}},
		{"t2", fd.ByTeam["t2"], SLA{Findings: 2, Open: 2, Breached: 1, NullSLA: 1}},
		{"HR findings", fd.ByDepartment["HR"].Findings, 2},
		{"debt", fd.SecurityDebt, 1},
		{"sales", tr.Departments["Sales"], DepartmentTruth{IncidentCostUSD: 300, Incidents: 1, CostOfRiskUSD: 300, PolicyExceptions: 2, PolicyExceptionsOpen: 1, PolicyExceptionResolvedSeconds: 4 * d}},
		{"hr", tr.Departments["HR"], DepartmentTruth{IncidentCostUSD: 300, Incidents: 1, VendorAssessmentCostUSD: 1300, VendorMonitoringCostUSD: 1200, VendorAssessments: 2, VendorAssessmentsCompleted: 1, VendorCycleSeconds: 10 * d, CostOfRiskUSD: 2800}},
		{"incidents", tr.Incidents, IncidentTruth{Incidents: 2, Resolved: 1, CostUSD: 600, AffectedAccounts: 1}},
	} {
		if c.got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

// TestAppenders checks the hand-rolled JSON against encoding/json.
func TestAppenders(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, `back\slash`, "new\nline\ttab\x01", "ünïcødé"} {
		got := appendString(nil, s)
		want, _ := json.Marshal(s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("appendString(%q) = %s (want round trip, encoding/json gives %s)", s, got, want)
		}
	}
	for _, sec := range []int64{0, 951782400, 1782864000, 4102444799} {
		got := appendTime(nil, sec)
		want, _ := json.Marshal(time.Unix(sec, 0).UTC().Format(time.RFC3339))
		if !bytes.Equal(got, want) {
			t.Errorf("appendTime(%d) = %s, want %s", sec, got, want)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	cases := []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{Options{End: time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{Options{End: time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{Options{Days: 20000}, false},
		{Options{Days: -1}, false},
		{Options{Scale: -2}, false},
		{Options{Scale: math.NaN()}, false},
		{Options{Scale: 0.01, Days: 1}, true},
	}
	for _, c := range cases {
		err := c.o.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%+v: err %v, want ok %v", c.o, err, c.ok)
		}
	}
}
