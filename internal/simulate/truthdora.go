package simulate

import "sort"

// finishDORA computes the DORA truth from the final states of every
// deployment and incident, with the definitions of DORATruth.
func (tb *truthBuilder) finishDORA() {
	window := int64(DORAWindow.Seconds())
	dt := &tb.t.DORA
	dt.WindowSeconds = window
	dt.Overall = map[string]DORAGroup{}
	dt.ByDepartment = map[string]map[string]DORAGroup{}
	dt.ByService = map[string]map[string]DORAGroup{}

	type change struct {
		d       *Deployment
		failure *signal
	}
	byService := map[string][]*change{}
	for i := range tb.doraDeps {
		d := &tb.doraDeps[i]
		if d.Env == "production" && d.Status == "success" && d.Finished != 0 && d.Trigger != "rollback" {
			byService[d.ServiceID] = append(byService[d.ServiceID], &change{d: d})
		}
	}
	var signals []signal
	for i := range tb.doraDeps {
		d := &tb.doraDeps[i]
		if d.Env != "production" || (d.Trigger != "rollback" && d.Trigger != "hotfix") {
			continue
		}
		s := signal{service: d.ServiceID, kind: d.Trigger, id: d.ID, at: d.Started}
		if d.Status == "success" && d.Finished != 0 {
			s.restored = d.Finished
		}
		signals = append(signals, s)
	}
	for _, in := range tb.doraIncs {
		for _, svc := range in.Services {
			s := signal{service: svc, kind: "incident", id: in.ID, at: in.Detected}
			if in.Status == "resolved" {
				s.restored = in.Resolved
			}
			signals = append(signals, s)
		}
	}
	for i := range signals {
		s := &signals[i]
		var target *change
		for _, c := range byService[s.service] {
			f := c.d.Finished
			if f >= s.at || s.at-f > window {
				continue
			}
			if target == nil || f > target.d.Finished || f == target.d.Finished && c.d.ID > target.d.ID {
				target = c
			}
		}
		if target != nil && (target.failure == nil || s.at < target.failure.at || s.at == target.failure.at && s.id < target.failure.id) {
			target.failure = s
		}
	}

	services := make([]string, 0, len(byService))
	for s := range byService {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, svc := range services {
		for _, c := range byService[svc] {
			d := c.d
			_, dept := tb.ownerAt(d.ServiceID, d.Started)
			key := "unblocked"
			if tb.blocked[d.ServiceID+"\x00"+d.Commit] {
				key = "blocked"
			}
			add := func(g DORAGroup) DORAGroup {
				if g.FailuresBySignal == nil {
					g.FailuresBySignal = map[string]int{"rollback": 0, "hotfix": 0, "incident": 0}
				}
				g.Changes++
				if d.FirstCommit != 0 {
					g.LeadTimes++
					g.LeadSeconds += d.Finished - d.FirstCommit
				}
				if c.failure != nil {
					g.Failures++
					g.FailuresBySignal[c.failure.kind]++
					if c.failure.restored != 0 {
						g.Restored++
						g.RestoreSeconds += c.failure.restored - d.Finished
					}
				}
				if d.Trigger == "security_fix" {
					first := int64(0)
					for _, f := range d.Fixes {
						if t, ok := tb.detected[f]; ok && (first == 0 || t < first) {
							first = t
						}
					}
					if first != 0 {
						g.SecurityFixes++
						g.SecurityFixSeconds += d.Finished - first
					}
				}
				return g
			}
			dt.Overall[key] = add(dt.Overall[key])
			if dt.ByDepartment[dept] == nil {
				dt.ByDepartment[dept] = map[string]DORAGroup{}
			}
			dt.ByDepartment[dept][key] = add(dt.ByDepartment[dept][key])
			if dt.ByService[svc] == nil {
				dt.ByService[svc] = map[string]DORAGroup{}
			}
			dt.ByService[svc][key] = add(dt.ByService[svc][key])
		}
	}
}

// signal is a failure signal of DORATruth.
type signal struct {
	service, kind, id string
	at, restored      int64
}
