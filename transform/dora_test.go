package transform_test

import (
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// observeDORA reads dora_changes in the shape of simulate.DORATruth.
func observeDORA(t *testing.T, conn driver.Conn) simulate.DORATruth {
	t.Helper()
	o := simulate.DORATruth{
		WindowSeconds: int64(transform.DefaultDORAWindow.Seconds()),
		Overall:       map[string]simulate.DORAGroup{},
		ByDepartment:  map[string]map[string]simulate.DORAGroup{},
		ByService:     map[string]map[string]simulate.DORAGroup{},
	}
	q := `SELECT department, service_id, gate_blocked, failure_signal, any(failure_window_seconds),
    count(), countIf(isNotNull(restore_hours)), sum(toInt64(assumeNotNull(restored_at)) - toInt64(finished_at)) * max(isNotNull(restored_at)),
    countIf(isNotNull(lead_time_hours)), toInt64(round(sumIf(assumeNotNull(lead_time_hours), isNotNull(lead_time_hours)) * 3600)),
    countIf(isNotNull(security_fix_lead_hours)), toInt64(round(sumIf(assumeNotNull(security_fix_lead_hours), isNotNull(security_fix_lead_hours)) * 3600))
FROM dora_changes
GROUP BY department, service_id, gate_blocked, failure_signal, isNotNull(restored_at)`
	query(t, conn, q, nil, func(r driver.Rows) error {
		var (
			dept, svc, signal           string
			blocked                     uint8
			window                      uint32
			n, restored, leads, fixes   uint64
			restoreSec, leadSec, fixSec int64
		)
		if err := r.Scan(&dept, &svc, &blocked, &signal, &window, &n, &restored, &restoreSec, &leads, &leadSec, &fixes, &fixSec); err != nil {
			return err
		}
		o.WindowSeconds = int64(window)
		key := "unblocked"
		if blocked == 1 {
			key = "blocked"
		}
		add := func(g simulate.DORAGroup) simulate.DORAGroup {
			if g.FailuresBySignal == nil {
				g.FailuresBySignal = map[string]int{"rollback": 0, "hotfix": 0, "incident": 0}
			}
			g.Changes += int(n)
			if signal != "" {
				g.Failures += int(n)
				g.FailuresBySignal[signal] += int(n)
			}
			g.Restored += int(restored)
			g.RestoreSeconds += restoreSec
			g.LeadTimes += int(leads)
			g.LeadSeconds += leadSec
			g.SecurityFixes += int(fixes)
			g.SecurityFixSeconds += fixSec
			return g
		}
		o.Overall[key] = add(o.Overall[key])
		if o.ByDepartment[dept] == nil {
			o.ByDepartment[dept] = map[string]simulate.DORAGroup{}
		}
		o.ByDepartment[dept][key] = add(o.ByDepartment[dept][key])
		if o.ByService[svc] == nil {
			o.ByService[svc] = map[string]simulate.DORAGroup{}
		}
		o.ByService[svc][key] = add(o.ByService[svc][key])
		return nil
	})
	return o
}

func TestDORAWindowDefaults(t *testing.T) {
	if transform.DefaultDORAWindow != simulate.DORAWindow {
		t.Errorf("transform's DORA window %s, the simulation's truth uses %s", transform.DefaultDORAWindow, simulate.DORAWindow)
	}
}
