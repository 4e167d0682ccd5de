package brief

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/transform/stats"
)

// Titles of the department version's headline figures (Compare matches
// figures of two periods by title).
const (
	titleSLA          = "Remediation SLA compliance"
	titleBlockRate    = "Security gate block rate"
	titleCFR          = "Change failure rate"
	titleCFRBlocked   = "Change failure rate, gate-blocked minus not blocked"
	titleLeadTime     = "Median lead time for changes"
	titleIncidentCost = "Incident cost"
	titleControlSpend = "Control spend"
	titleDebt         = "Security debt at period end"
)

// loadDepartment fills the one-page version of one department: its
// security KPIs, DORA figures, incident cost and control spend for the
// period, and its scorecard month by month. SLA compliance, the gate block
// rate and the costs are the transform's impact_stats rows for the
// department (the figures its dashboard shows); the DORA figures are
// computed here from dora_changes with the transform/stats procedures
// (impact_stats holds none). The department reaches the SQL only as an
// escaped string literal (internal/sqlparam).
func loadDepartment(ctx context.Context, conn driver.Conn, p Period, s *store, dept string, d *Data) error {
	if err := knownDepartment(ctx, conn, p, dept); err != nil {
		return err
	}
	minN := d.MinN
	var debt int64
	err := queryDepartment(ctx, conn, "department.sql", p, dept, func(r driver.Rows) error {
		row := ScorecardRow{Department: dept}
		var oc, oh, w, b, sd, dp, bl, exc, unknown uint64
		if err := r.Scan(&row.Month, &oc, &oh, &w, &b, &sd, &dp, &bl, &exc, &row.IncidentCostUSD, &row.ControlSpendUSD, &unknown); err != nil {
			return err
		}
		row.OpenCritical, row.OpenHigh, row.SecurityDebt, row.OpenExceptions = int64(oc), int64(oh), int64(sd), int64(exc)
		row.SLACompliance, row.SLAN, row.SLAMuted = ratio(w, w+b), int64(w+b), int64(w+b) < minN
		row.GateBlockRate, row.Deployments, row.GateMuted = ratio(bl, dp), int64(dp), int64(dp) < minN
		row.IncidentsCostUnknown = int64(unknown)
		row.CostOfRiskUSD = row.IncidentCostUSD + row.ControlSpendUSD
		d.Scorecard = append(d.Scorecard, row)
		debt = int64(sd) // the last month's stock
		return nil
	})
	if err != nil {
		return err
	}
	var changes [2][]bool // by gate_blocked: failed or not
	var leads []float64
	err = queryDepartment(ctx, conn, "department_dora.sql", p, dept, func(r driver.Rows) error {
		var gb, failed uint8
		var lead *float64
		if err := r.Scan(&gb, &failed, &lead); err != nil {
			return err
		}
		changes[gb&1] = append(changes[gb&1], failed == 1)
		if lead != nil {
			leads = append(leads, *lead)
		}
		return nil
	})
	if err != nil {
		return err
	}

	stored := func(title, metric, unit string, scale float64, wording string) {
		r, ok := s.get(metric, "department", dept)
		if !ok {
			return
		}
		f := figure(title, r, unit, scale)
		f.Wording = wording
		if unit == "USD" {
			d.Headlines = append(d.Headlines, f)
			return
		}
		d.Headlines = append(d.Headlines, suppressShare(f))
	}
	stored(titleSLA, "sla_compliance", "%", 100, "Findings due in the period fixed by their due date (fixed late, still open or dismissed after it: missed). n = findings due.")
	stored(titleBlockRate, "gate_block_rate", "%", 100, "Deployments a failing blocking security gate held up. n = deployments.")

	rules := stats.Rules{MinN: int(minN)}
	conf := stats.DefaultConfidence
	failures := func(v []bool) int {
		k := 0
		for _, f := range v {
			if f {
				k++
			}
		}
		return k
	}
	fb, fn := failures(changes[1]), failures(changes[0])
	nAll := len(changes[0]) + len(changes[1])
	e := stats.Wilson(fb+fn, nAll, conf)
	cfr := Figure{Title: titleCFR, Estimate: 100 * e.Value, Low: 100 * e.Low, High: 100 * e.High, N: int64(nAll), Unit: "%",
		Method: "Wilson score interval", Evidence: rules.Evidence(stats.Descriptive, nAll),
		Wording: "Changes (successful production deployments) followed by a rollback, a hotfix or an incident on the same service within the failure window. n = changes."}
	if nAll == 0 {
		cfr.Estimate, cfr.Low, cfr.High = math.NaN(), math.NaN(), math.NaN()
	}
	d.Headlines = append(d.Headlines, suppressShare(cfr))
	diff := stats.NewcombeDiff(fb, len(changes[1]), fn, len(changes[0]), conf)
	blocked := Figure{Title: titleCFRBlocked, Estimate: 100 * diff.Value, Low: 100 * diff.Low, High: 100 * diff.High, N: int64(nAll), Unit: "pp",
		Method: "Newcombe hybrid score", Evidence: rules.Evidence(stats.Descriptive, len(changes[1]), len(changes[0]))}
	blocked.Wording = fmt.Sprintf("Changes a security gate blocked failed %s percentage points %s often than the others; blocks are associated with the difference, which also reflects what the blocked changes were.",
		formatNumber(math.Abs(blocked.Estimate)), map[bool]string{true: "more", false: "less"}[blocked.Estimate >= 0])
	d.Headlines = append(d.Headlines, suppress(blocked))
	lt := stats.MedianCI(leads, conf)
	d.Headlines = append(d.Headlines, suppress(Figure{Title: titleLeadTime, Estimate: lt.Value, Low: lt.Low, High: lt.High, N: int64(len(leads)), Unit: "h",
		Method: "order-statistic interval", Evidence: rules.Evidence(stats.Descriptive, len(leads)),
		Wording: "From first commit to the change finished in production. n = changes with a first commit time."}))

	stored(titleIncidentCost, "incident_cost_usd", "USD", 1, "Cost of the incidents the department's decisions contributed to, split evenly among contributors; incidents whose cost is not known yet count 0 (a lower bound). n = incidents.")
	stored(titleControlSpend, "control_spend_usd", "USD", 1, "What assessing and monitoring the vendor tools the department asked for cost: spend on controls, not a loss.")
	d.Headlines = append(d.Headlines, Figure{Title: titleDebt, Estimate: float64(debt), Low: math.NaN(), High: math.NaN(), N: 1, Unit: "findings",
		Method: "count at the last month's end", Evidence: stats.Descriptive,
		Wording: "Open critical and high findings detected more than a year before."})
	return nil
}

// suppressShare greys out a share below the minimum n.
func suppressShare(f Figure) Figure {
	if f.Evidence == stats.Insufficient || math.IsNaN(f.Estimate) {
		f.Suppressed, f.Evidence = true, stats.Insufficient
	}
	return f
}

func ratio(x, n uint64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(x) / float64(n)
}

// ErrUnknownDepartment is returned by Load for a department the scorecard
// has no rows for.
var ErrUnknownDepartment = errors.New("unknown department")

// knownDepartment refuses a department the scorecard has never seen,
// naming the ones it has.
func knownDepartment(ctx context.Context, conn driver.Conn, p Period, dept string) error {
	var known []string
	err := query(ctx, conn, "departments.sql", p, func(r driver.Rows) error {
		var name string
		if err := r.Scan(&name); err != nil {
			return err
		}
		known = append(known, name)
		return nil
	})
	if err != nil {
		return err
	}
	if slices.Contains(known, dept) {
		return nil
	}
	if len(known) > 20 {
		known = append(known[:20], "...")
	}
	return fmt.Errorf("%w %q: the scorecard has %s", ErrUnknownDepartment, dept, strings.Join(known, ", "))
}
