package simulate

import "fmt"

// Gate is one security gate run's state (a single evaluated event).
type Gate struct {
	ID, ServiceID, Commit, Tool, Result string
	Blocking                            bool
	Crit, High, Med, Low                int64
	Started, Completed                  int64
}

func (gt *Gate) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("run_id", gt.ID)
	o.str("service_id", gt.ServiceID)
	o.str("commit_sha", gt.Commit)
	o.str("tool", gt.Tool)
	o.str("result", gt.Result)
	o.bool("blocking", gt.Blocking)
	o.int("findings_critical", gt.Crit)
	o.int("findings_high", gt.High)
	o.int("findings_medium", gt.Med)
	o.int("findings_low", gt.Low)
	o.time("started_at", gt.Started)
	o.time("completed_at", gt.Completed)
	return o.close()
}

// Deployment is a deployment's state.
type Deployment struct {
	ID, ServiceID, Env, Commit, Status, Trigger string
	FirstCommit, Started, Finished              int64
	GateWait                                    int64 // security_gate_wait_seconds
	Fixes                                       []string
}

func (d *Deployment) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("deployment_id", d.ID)
	o.str("service_id", d.ServiceID)
	o.str("environment", d.Env)
	o.str("commit_sha", d.Commit)
	o.time("first_commit_at", d.FirstCommit)
	o.time("started_at", d.Started)
	o.optTime("finished_at", d.Finished)
	o.str("status", d.Status)
	o.str("trigger", d.Trigger)
	o.int("security_gate_wait_seconds", d.GateWait)
	if d.Fixes != nil {
		o.strs("fixes_finding_ids", d.Fixes)
	}
	return o.close()
}

func (g *gen) deploymentsDay(day int64) {
	r := g.rDep
	for _, s := range g.org.services {
		n := poisson(r, s.deployRate*g.scale)
		for i := 0; i < n; i++ {
			env := "production"
			if r.Float64() < 0.25 {
				env = "staging"
			}
			trig := pick(r, []string{"feature", "hotfix", "rollback", "config"}, []float64{0.75, 0.1, 0.03, 0.12})
			g.deployment(s, day+r.Int64N(daySec), 0, trig, "", env, 0)
		}
	}
}

// deployment generates a gate run (two when a blocking gate fails: the
// failing run, then after the wait a passing or waived re-run) and the
// deployment. It starts the first gate at start, or, when start is 0, ends
// the deployment exactly at finish (a security fix whose fixed_at is
// known); then it gives up (ok false) if that would begin before notBefore.
// It returns the deployment's finished_at.
func (g *gen) deployment(s *service, start, finish int64, trigger, fixes, env string, notBefore int64) (int64, bool) {
	r := g.rDep
	p := g.p
	// Draw every duration first, so the chain can be anchored at either end.
	gate1 := 180 + r.Int64N(720)
	u := r.Float64()
	result1 := "pass"
	switch {
	case u < p.GateFailRate:
		result1 = "fail"
	case u < p.GateFailRate+0.03:
		result1 = "waived"
	}
	blocked := result1 == "fail" && s.gateBlocking
	group := "coding/unblocked"
	if blocked {
		group = "coding/blocked"
	}
	coding := hours(quantileLognormal(g.lowDisc(group).next(), 20*s.leadFactor, 0.9))
	var wait, gate2 int64
	result2 := ""
	if blocked {
		wait = hours(p.GateDelayHours * (0.67 + 0.66*r.Float64()))
		gate2 = 180 + r.Int64N(720)
		if gate2 > wait-1 {
			gate2 = wait - 1
		}
		result2 = "pass"
		if r.Float64() < 0.4 {
			result2 = "waived"
		}
	}
	slack := 30 + r.Int64N(570)
	run := 180 + r.Int64N(2220)
	status := pick(r, []string{"success", "failure", "rolled_back"}, []float64{0.92, 0.05, 0.03})
	if trigger == "security_fix" {
		status = "success" // its finished_at is the finding's fixed_at
	}
	commit := sha(r)
	crit, high := int64(0), int64(r.IntN(2))
	if result1 == "fail" {
		crit, high = int64(r.IntN(3)), int64(1+r.IntN(5))
	}
	med, low := int64(r.IntN(6)), int64(r.IntN(10))

	total := gate1 + wait + slack + run
	if start == 0 {
		start = finish - total
		if start <= notBefore {
			return 0, false
		}
	}
	g.nDep++
	d := &Deployment{
		ID: fmt.Sprintf("DEP-%08d", g.nDep), ServiceID: s.ID, Env: env, Commit: commit,
		Status: "in_progress", Trigger: trigger, FirstCommit: start - coding, GateWait: wait,
	}
	if fixes != "" {
		d.Fixes = []string{fixes}
	}
	gates := []*Gate{{
		ID: fmt.Sprintf("GATE-%08d", g.nGate+1), ServiceID: s.ID, Commit: commit, Tool: s.tool, Result: result1,
		Blocking: s.gateBlocking, Crit: crit, High: high, Med: med, Low: low, Started: start, Completed: start + gate1,
	}}
	g.nGate++
	if blocked {
		g.nGate++
		c2 := start + gate1 + wait
		gates = append(gates, &Gate{
			ID: fmt.Sprintf("GATE-%08d", g.nGate), ServiceID: s.ID, Commit: commit, Tool: s.tool, Result: result2,
			Blocking: s.gateBlocking, Crit: 0, High: 0, Med: med, Low: low, Started: c2 - gate2, Completed: c2,
		})
	}
	for _, gt := range gates {
		if gt.Completed > g.end {
			break
		}
		g.scratch = gt.data(g.scratch[:0])
		g.event(&life{n: 1}, "security.gate.evaluated", "impact-sim/ci", gt.ID, gt.Completed, g.scratch)
		g.tb.gate(gt)
	}
	d.Started = start + gate1 + wait + slack
	fin := d.Started + run
	l := life{end: g.end}
	if t, ok := l.at(d.Started); ok {
		g.scratch = d.data(g.scratch[:0])
		g.event(&l, "deployment.started", "impact-sim/cd", d.ID, t, g.scratch)
		if t, ok := l.at(fin); ok {
			d.Finished, d.Status = t, status
			g.scratch = d.data(g.scratch[:0])
			g.event(&l, "deployment.finished", "impact-sim/cd", d.ID, t, g.scratch)
		}
		g.tb.deployment(d)
		waived := s.gateBlocking && (result1 == "waived" || result2 == "waived")
		g.maybeFail(s, d, waived)
	}
	return fin, true
}

// maybeFail plants a change failure: a successful production change is
// followed by a rollback or a hotfix of its service 1 to 12 hours after
// it finished, with probability ChangeFailRate, or ChangeFailRateWaived
// when its blocking gate was waived. The draws come from their own
// stream, so every other entity is the same with or without them.
func (g *gen) maybeFail(s *service, d *Deployment, waived bool) {
	if d.Env != "production" || d.Status != "success" || d.Finished == 0 || d.Trigger == "rollback" {
		return
	}
	r := g.rFail
	p := g.p.ChangeFailRate
	if waived {
		p = g.p.ChangeFailRateWaived
	}
	if r.Float64() >= p {
		return
	}
	trigger := "rollback"
	if r.Float64() < 0.5 {
		trigger = "hotfix"
	}
	g.followUp(s, d.Finished+3600+r.Int64N(11*3600), trigger)
}

// followUp is a rollback or hotfix deployment of s whose gate run starts
// at start: a passing gate, then the deployment, which succeeds.
func (g *gen) followUp(s *service, start int64, trigger string) {
	r := g.rFail
	g.nFollow++
	gate := 120 + r.Int64N(480)
	gt := &Gate{ID: fmt.Sprintf("GATEF-%08d", g.nFollow), ServiceID: s.ID, Commit: sha(r), Tool: s.tool, Result: "pass",
		Blocking: s.gateBlocking, Started: start, Completed: start + gate}
	// Its lead time is drawn like any unblocked deployment's, so planted
	// failures leave the gate-delay comparison as it was.
	coding := hours(quantileLognormal(r.Float64(), 20, 0.9))
	d := &Deployment{ID: fmt.Sprintf("DEPF-%08d", g.nFollow), ServiceID: s.ID, Env: "production", Commit: gt.Commit,
		Status: "in_progress", Trigger: trigger, FirstCommit: start - coding}
	if gt.Completed > g.end {
		return
	}
	g.scratch = gt.data(g.scratch[:0])
	g.event(&life{n: 1}, "security.gate.evaluated", "impact-sim/ci", gt.ID, gt.Completed, g.scratch)
	g.tb.gate(gt)
	d.Started = gt.Completed + 30 + r.Int64N(300)
	fin := d.Started + 180 + r.Int64N(1020)
	l := life{end: g.end}
	if t, ok := l.at(d.Started); ok {
		g.scratch = d.data(g.scratch[:0])
		g.event(&l, "deployment.started", "impact-sim/cd", d.ID, t, g.scratch)
		if t, ok := l.at(fin); ok {
			d.Finished, d.Status = t, "success"
			g.scratch = d.data(g.scratch[:0])
			g.event(&l, "deployment.finished", "impact-sim/cd", d.ID, t, g.scratch)
		}
		g.tb.deployment(d)
	}
}
