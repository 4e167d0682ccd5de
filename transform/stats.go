package transform

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/transform/stats"
)

// StatsTable is the table of computed statistics.
const StatsTable = "impact_stats"

// StatsOptions configure the statistics of impact_stats. The zero value
// uses 95% intervals, the default minimum n (stats.DefaultMinN), 2000
// bootstrap resamples (fewer for very large samples, see resamples) and
// seed 1.
type StatsOptions = stats.Options

// Stat is one row of impact_stats.
type Stat struct {
	Metric, Dimension, Value string
	N                        int
	Estimate, Low, High      float64 // NaN: null
	Method, Evidence         string
	P, PAdjusted             float64 // NaN: null
	Unit                     string
}

func row(metric, dim, val, unit, evidence string, e stats.Estimate) Stat {
	return Stat{Metric: metric, Dimension: dim, Value: val, N: e.N, Estimate: e.Value, Low: e.Low, High: e.High,
		Method: e.Method, Evidence: evidence, P: math.NaN(), PAdjusted: math.NaN(), Unit: unit}
}

func total(metric, dim, val, unit string, n int, v float64) Stat {
	return Stat{Metric: metric, Dimension: dim, Value: val, N: n, Estimate: v, Low: math.NaN(), High: math.NaN(),
		Method: "sum", Evidence: stats.Descriptive, P: math.NaN(), PAdjusted: math.NaN(), Unit: unit}
}

// refreshStats computes impact_stats from the fact tables and swaps it in.
func refreshStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time) (TableReport, error) {
	tr := TableReport{Table: StatsTable, Mode: Full}
	rowsOut, err := ComputeStats(ctx, conn, o, asOf)
	if err != nil {
		return tr, err
	}
	next := StatsTable + "_next"
	if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+next); err != nil {
		return tr, fmt.Errorf("drop %s: %w", next, err)
	}
	if err := execFile(ctx, conn, StatsTable+".ddl.sql", tmplData{Table: next}); err != nil {
		return tr, err
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+next+" ("+statsInsertColumns+")")
	if err != nil {
		return tr, fmt.Errorf("insert %s batch: %w", StatsTable, err)
	}
	defer b.Close()
	now := time.Now().UTC().Truncate(time.Second)
	for _, s := range rowsOut {
		if err := b.Append(s.Metric, s.Dimension, s.Value, uint64(s.N), nullable(s.Estimate), nullable(s.Low), nullable(s.High),
			s.Method, s.Evidence, nullable(s.P), nullable(s.PAdjusted), s.Unit, asOf, now); err != nil {
			return tr, fmt.Errorf("insert %s batch: %w", StatsTable, err)
		}
	}
	if err := b.Send(); err != nil {
		return tr, fmt.Errorf("insert %s batch: %w", StatsTable, err)
	}
	exists, err := tableExists(ctx, conn, StatsTable)
	if err != nil {
		return tr, err
	}
	for _, q := range swapSteps(StatsTable, exists) {
		if err := conn.Exec(ctx, q); err != nil {
			return tr, fmt.Errorf("swap %s: %w", StatsTable, err)
		}
	}
	tr.Rows = uint64(len(rowsOut))
	return tr, nil
}

func nullable(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// ComputeStats computes the impact_stats rows from the fact tables in
// conn's database without writing them.
func ComputeStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time) ([]Stat, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	// The families read different tables and are independent: run them
	// concurrently (conn is a pool) so that the server scans one table
	// while the client decodes and computes another. Rows keep the
	// family order.
	families := []func(context.Context, driver.Conn, StatsOptions, time.Time) ([]Stat, error){
		dealStats, deploymentStats, ticketStats, findingStats, departmentStats,
	}
	res := make([][]Stat, len(families))
	errs := make([]error, len(families))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, f := range families {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res[i], errs[i] = f(ctx, conn, o, asOf); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return nil, err
	}
	var out []Stat
	for i := range families {
		out = append(out, res[i]...)
	}
	return out, nil
}

type deal struct {
	segment, bucket, outcome, lossReason string
	won                                  uint8
	turnaround                           *float64
	cycle, amount                        float64
}

var buckets = []string{"none", "fast", "medium", "slow", "incomplete"}
var segments = []string{"smb", "mid_market", "enterprise"}

func dealStats(ctx context.Context, conn driver.Conn, o StatsOptions, _ time.Time) ([]Stat, error) {
	rows, err := conn.Query(ctx, qDeals)
	if err != nil {
		return nil, fmt.Errorf("read deal_facts: %w", err)
	}
	defer rows.Close()
	var deals []deal
	for rows.Next() {
		var d deal
		if err := rows.Scan(&d.segment, &d.bucket, &d.outcome, &d.lossReason, &d.won, &d.turnaround, &d.cycle, &d.amount); err != nil {
			return nil, fmt.Errorf("read deal_facts: %w", err)
		}
		deals = append(deals, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deal_facts: %w", err)
	}
	r, c := o.Rules, o.Confidence
	var out []Stat
	type wn struct{ won, n int }
	byB := map[string]*wn{}
	bySB := map[string]*wn{}
	for _, b := range buckets {
		byB[b] = &wn{}
		for _, s := range segments {
			bySB[s+"/"+b] = &wn{}
		}
	}
	cycle := map[string][]float64{}
	var lostSec float64
	var nLostSec int
	lostSecSeg := map[string]float64{}
	nLostSecSeg := map[string]int{}
	var turn, wonF, share []float64
	for _, d := range deals {
		if g := byB[d.bucket]; g != nil {
			g.n++
			g.won += int(d.won)
		}
		if g := bySB[d.segment+"/"+d.bucket]; g != nil {
			g.n++
			g.won += int(d.won)
		}
		cycle[d.bucket] = append(cycle[d.bucket], d.cycle)
		if d.outcome == "lost" && d.lossReason == "security" {
			lostSec += d.amount
			nLostSec++
			lostSecSeg[d.segment] += d.amount
			nLostSecSeg[d.segment]++
		}
		if d.turnaround != nil && d.bucket != "none" && d.bucket != "incomplete" {
			turn = append(turn, *d.turnaround)
			wonF = append(wonF, float64(d.won))
			if d.cycle > 0 {
				share = append(share, *d.turnaround/d.cycle)
			}
		}
	}
	// 1. Win rate by bucket, and fast minus slow: pooled, per segment (BH
	// across segments) and stratified by segment (Mantel-Haenszel).
	for _, b := range buckets {
		g := byB[b]
		out = append(out, row("win_rate", "review_bucket", b, "ratio", r.Evidence(stats.Descriptive, g.n), stats.Wilson(g.won, g.n, c)))
		for _, s := range segments {
			g := bySB[s+"/"+b]
			out = append(out, row("win_rate", "segment_review_bucket", s+"/"+b, "ratio", r.Evidence(stats.Descriptive, g.n), stats.Wilson(g.won, g.n, c)))
		}
	}
	f, s := byB["fast"], byB["slow"]
	pooled := row("win_rate_diff_fast_minus_slow", "all", "pooled", "ratio", r.Evidence(stats.Descriptive, f.n, s.n), stats.NewcombeDiff(f.won, f.n, s.won, s.n, c))
	pooled.P = stats.TwoProportionP(f.won, f.n, s.won, s.n)
	out = append(out, pooled)
	var strata []stats.Stratum
	var segRows []Stat
	var ps []float64
	for _, seg := range segments {
		f, s := bySB[seg+"/fast"], bySB[seg+"/slow"]
		strata = append(strata, stats.Stratum{X1: f.won, N1: f.n, X0: s.won, N0: s.n})
		st := row("win_rate_diff_fast_minus_slow", "segment", seg, "ratio", r.Evidence(stats.Descriptive, f.n, s.n), stats.NewcombeDiff(f.won, f.n, s.won, s.n, c))
		st.P = stats.TwoProportionP(f.won, f.n, s.won, s.n)
		segRows = append(segRows, st)
		ps = append(ps, st.P)
	}
	for i, q := range stats.BenjaminiHochberg(ps) {
		segRows[i].PAdjusted = q
	}
	out = append(out, segRows...)
	mh := stats.MantelHaenszelRD(strata, c)
	out = append(out, row("win_rate_diff_fast_minus_slow", "stratified", "segment", "ratio", r.Evidence(stats.Adjusted, f.n, s.n), mh))
	// 2. Revenue lost to security.
	out = append(out, total("revenue_lost_security_usd", "all", "pooled", "usd", nLostSec, lostSec))
	for _, seg := range segments {
		out = append(out, total("revenue_lost_security_usd", "segment", seg, "usd", nLostSecSeg[seg], lostSecSeg[seg]))
	}
	// 3. Review turnaround (deals with a completed review) and its share of
	// the sales cycle.
	out = append(out, row("review_turnaround_days", "all", "median", "days", r.Evidence(stats.Descriptive, len(turn)), stats.MedianCI(turn, c)))
	out = append(out, row("review_share_of_cycle", "all", "median", "ratio", r.Evidence(stats.Descriptive, len(share)), stats.MedianCI(share, c)))
	// Correlation of turnaround with winning: Spearman (skewed duration)
	// and Pearson (point-biserial) for reference.
	out = append(out, row("review_turnaround_vs_won", "all", "spearman", "rho", r.Evidence(stats.Descriptive, len(turn)), stats.Spearman(turn, wonF, c)))
	out = append(out, row("review_turnaround_vs_won", "all", "pearson", "r", r.Evidence(stats.Descriptive, len(turn)), stats.Pearson(turn, wonF, c)))
	// 4. Deal cycle by bucket.
	for _, b := range buckets {
		out = append(out, row("deal_cycle_days", "review_bucket", b, "days", r.Evidence(stats.Descriptive, len(cycle[b])), stats.MedianCI(cycle[b], c)))
	}
	return out, nil
}

func deploymentStats(ctx context.Context, conn driver.Conn, o StatsOptions, _ time.Time) ([]Stat, error) {
	rows, err := conn.Query(ctx, qDeploymentGroups)
	if err != nil {
		return nil, fmt.Errorf("read deployment_facts: %w", err)
	}
	defer rows.Close()
	type cnt struct{ blocked, waived, n int }
	byDept := map[string]*cnt{}
	var all cnt
	var blocked, unblocked []float64
	for rows.Next() {
		var dept string
		var b, w uint8
		var n uint64
		var lead []float64
		if err := rows.Scan(&dept, &b, &w, &n, &lead); err != nil {
			return nil, fmt.Errorf("read deployment_facts: %w", err)
		}
		if byDept[dept] == nil {
			byDept[dept] = &cnt{}
		}
		for _, c := range []*cnt{byDept[dept], &all} {
			c.n += int(n)
			c.blocked += int(b) * int(n)
			c.waived += int(w) * int(n)
		}
		if b == 1 {
			blocked = append(blocked, lead...)
		} else {
			unblocked = append(unblocked, lead...)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deployment_facts: %w", err)
	}
	bootstrap := len(blocked)+len(unblocked) <= bootstrapMaxN || o.Resamples > 0
	if bootstrap {
		if blocked, unblocked, err = deploymentLeads(ctx, conn); err != nil {
			return nil, err
		}
	}
	r, c := o.Rules, o.Confidence
	var out []Stat
	// 9. Gate block rate and the share of blocking outcomes that were waived.
	out = append(out, row("gate_block_rate", "all", "pooled", "ratio", r.Evidence(stats.Descriptive, all.n), stats.Wilson(all.blocked, all.n, c)))
	out = append(out, row("gate_waived_share", "all", "pooled", "ratio", r.Evidence(stats.Descriptive, all.blocked+all.waived), stats.Wilson(all.waived, all.blocked+all.waived, c)))
	for _, d := range slices.Sorted(maps.Keys(byDept)) {
		g := byDept[d]
		out = append(out, row("gate_block_rate", "department", d, "ratio", r.Evidence(stats.Descriptive, g.n), stats.Wilson(g.blocked, g.n, c)))
	}
	// 10. Lead time blocked vs unblocked: medians and their difference.
	out = append(out, row("deploy_lead_time_hours", "gate_blocked", "1", "hours", r.Evidence(stats.Descriptive, len(blocked)), stats.MedianCI(blocked, c)))
	out = append(out, row("deploy_lead_time_hours", "gate_blocked", "0", "hours", r.Evidence(stats.Descriptive, len(unblocked)), stats.MedianCI(unblocked, c)))
	// The percentile bootstrap up to bootstrapMaxN observations; above, the
	// McKean-Schrader normal interval, because resampling a million lead
	// times would dominate the refresh while the interval is already narrow.
	var delay stats.Estimate
	if bootstrap {
		n := len(blocked) + len(unblocked)
		delay = stats.BootstrapMedianDiff(blocked, unblocked, resamples(o.Resamples, n), c, o.Seed)
	} else {
		delay = stats.MedianDiffMcKeanSchrader(blocked, unblocked, c)
	}
	d := row("gate_delay_hours", "all", "blocked_minus_unblocked", "hours", r.Evidence(stats.Descriptive, len(blocked), len(unblocked)), delay)
	_, d.P = stats.MannWhitney(blocked, unblocked)
	out = append(out, d)

	// 11. Security-fix lead time: finding detected -> deploy that fixes it.
	var fix []float64
	frows, err := conn.Query(ctx, qSecurityFix)
	if err != nil {
		return nil, fmt.Errorf("read security fix lead times: %w", err)
	}
	defer frows.Close()
	for frows.Next() {
		var h float64
		if err := frows.Scan(&h); err != nil {
			return nil, fmt.Errorf("read security fix lead times: %w", err)
		}
		fix = append(fix, h)
	}
	if err := frows.Err(); err != nil {
		return nil, fmt.Errorf("read security fix lead times: %w", err)
	}
	out = append(out, row("security_fix_lead_time_hours", "all", "median", "hours", r.Evidence(stats.Descriptive, len(fix)), stats.MedianCI(fix, c)))
	return out, nil
}

// deploymentLeads reads the lead times of blocked and unblocked
// deployments in deployment order, the order the bootstrap resamples.
func deploymentLeads(ctx context.Context, conn driver.Conn) (blocked, unblocked []float64, err error) {
	rows, err := conn.Query(ctx, qDeploymentLeads)
	if err != nil {
		return nil, nil, fmt.Errorf("read deployment lead times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b uint8
		var lead float64
		if err := rows.Scan(&b, &lead); err != nil {
			return nil, nil, fmt.Errorf("read deployment lead times: %w", err)
		}
		if b == 1 {
			blocked = append(blocked, lead)
		} else {
			unblocked = append(unblocked, lead)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read deployment lead times: %w", err)
	}
	return blocked, unblocked, nil
}

func ticketStats(ctx context.Context, conn driver.Conn, o StatsOptions, _ time.Time) ([]Stat, error) {
	rows, err := conn.Query(ctx, qTicketGroups)
	if err != nil {
		return nil, fmt.Errorf("read ticket_facts: %w", err)
	}
	defer rows.Close()
	// Integer scores: sums are exact in float64, so per-account means do
	// not depend on the order rows arrive in.
	type acct struct{ afterSum, afterN, beforeSum, beforeN float64 }
	accounts := map[string]*acct{}
	var afterN, baseN [256]int // tickets per CSAT score
	var n, sec, nAfter, secAfter int
	for rows.Next() {
		var id string
		var a, s, rated, csat, affected uint8
		var cnt uint64
		if err := rows.Scan(&id, &a, &s, &rated, &csat, &affected, &cnt); err != nil {
			return nil, fmt.Errorf("read ticket_facts: %w", err)
		}
		k := int(cnt)
		n += k
		sec += int(s) * k
		if a == 1 {
			nAfter += k
			secAfter += int(s) * k
		}
		if rated == 0 {
			continue
		}
		v := float64(csat)
		if a == 1 {
			afterN[csat] += k
		} else if affected == 1 {
			baseN[csat] += k
		}
		if affected == 1 {
			if accounts[id] == nil {
				accounts[id] = &acct{}
			}
			if a == 1 {
				accounts[id].afterSum += v * float64(k)
				accounts[id].afterN += float64(k)
			} else {
				accounts[id].beforeSum += v * float64(k)
				accounts[id].beforeN += float64(k)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ticket_facts: %w", err)
	}
	// The samples in score order: a canonical order, so the floating-point
	// sums of the t statistics are the same on every run.
	expand := func(counts *[256]int) []float64 {
		var out []float64
		for v, k := range counts {
			for range k {
				out = append(out, float64(v))
			}
		}
		return out
	}
	after, affectedBase := expand(&afterN), expand(&baseN)
	r, c := o.Rules, o.Confidence
	var out []Stat
	// 12. CSAT after an incident vs the affected accounts' own baseline:
	// unpaired (all rated tickets) and paired per account.
	out = append(out, row("csat", "after_incident_30d", "1", "score", r.Evidence(stats.Descriptive, len(after)), stats.MeanT(after, c)))
	out = append(out, row("csat", "after_incident_30d", "0_affected_accounts", "score", r.Evidence(stats.Descriptive, len(affectedBase)), stats.MeanT(affectedBase, c)))
	w, p := stats.WelchDiff(after, affectedBase, c)
	drop := row("csat_incident_drop", "all", "after_minus_own_baseline", "score", r.Evidence(stats.QuasiExperiment, len(after), len(affectedBase)), w)
	drop.P = p
	out = append(out, drop)
	var paired []float64
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		a := accounts[id]
		if a.afterN > 0 && a.beforeN > 0 {
			paired = append(paired, a.afterSum/a.afterN-a.beforeSum/a.beforeN)
		}
	}
	pe := stats.MeanT(paired, c)
	pe.Method = "paired_account_mean_diff_t"
	out = append(out, row("csat_incident_drop", "paired", "account", "score", r.Evidence(stats.QuasiExperiment, len(paired)), pe))
	// 13. Security-related ticket share, overall and after incidents.
	out = append(out, total("security_ticket_volume", "all", "pooled", "count", n, float64(sec)))
	out = append(out, row("security_ticket_share", "after_incident_30d", "1", "ratio", r.Evidence(stats.Descriptive, nAfter), stats.Wilson(secAfter, nAfter, c)))
	out = append(out, row("security_ticket_share", "after_incident_30d", "0", "ratio", r.Evidence(stats.Descriptive, n-nAfter), stats.Wilson(sec-secAfter, n-nAfter, c)))
	return out, nil
}

func findingStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time) ([]Stat, error) {
	rows, err := conn.Query(ctx, bindAsOf(qFindingGroups, asOf))
	if err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	type sla struct{ within, n int }
	type ttf struct {
		t   []float64
		obs []bool
	}
	slaTeam, slaDept := map[string]*sla{}, map[string]*sla{}
	ttfSev, ttfTeam := map[string]*ttf{}, map[string]*ttf{}
	var opened, fixed, debt int
	for rows.Next() {
		var team, dept, sev, status string
		var within, isDebt uint8
		var n uint64
		var days []float64
		if err := rows.Scan(&team, &dept, &sev, &status, &within, &isDebt, &n, &days); err != nil {
			return nil, fmt.Errorf("read findings: %w", err)
		}
		opened += int(n)
		debt += int(isDebt) * int(n)
		if within != 2 { // 2: no SLA outcome yet
			for _, kv := range []struct {
				m map[string]*sla
				k string
			}{{slaTeam, team}, {slaDept, dept}} {
				if kv.m[kv.k] == nil {
					kv.m[kv.k] = &sla{}
				}
				kv.m[kv.k].n += int(n)
				kv.m[kv.k].within += int(within) * int(n)
			}
		}
		// Dismissed findings are censored at dismissal in the fix-time
		// analysis: never fixed, but no longer at risk.
		for _, kv := range []struct {
			m map[string]*ttf
			k string
		}{{ttfSev, sev}, {ttfTeam, team}} {
			if kv.m[kv.k] == nil {
				kv.m[kv.k] = &ttf{}
			}
			g := kv.m[kv.k]
			g.t = append(g.t, days...)
			for range days {
				g.obs = append(g.obs, status == "fixed")
			}
		}
		if status == "fixed" {
			fixed += int(n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	r, c := o.Rules, o.Confidence
	var out []Stat
	// 5. MTTR by severity and team: Kaplan-Meier median and p90 with open
	// (and dismissed) findings censored, so slow teams are not flattered by
	// dropping what they have not fixed.
	for _, kv := range []struct {
		dim string
		m   map[string]*ttf
	}{{"severity", ttfSev}, {"team", ttfTeam}} {
		for _, k := range slices.Sorted(maps.Keys(kv.m)) {
			g := kv.m[k]
			for _, q := range []struct {
				name string
				q    float64
			}{{"mttr_days_median", 0.5}, {"mttr_days_p90", 0.9}} {
				st := Stat{Metric: q.name, Dimension: kv.dim, Value: k, N: len(g.t), Estimate: stats.KaplanMeierQuantile(g.t, g.obs, q.q),
					Low: math.NaN(), High: math.NaN(), Method: "kaplan_meier", Evidence: r.Evidence(stats.Descriptive, len(g.t)),
					P: math.NaN(), PAdjusted: math.NaN(), Unit: "days"}
				out = append(out, st)
			}
		}
	}
	// 6. SLA compliance by team and department (findings with a decided SLA).
	for _, kv := range []struct {
		dim string
		m   map[string]*sla
	}{{"team", slaTeam}, {"department", slaDept}} {
		for _, k := range slices.Sorted(maps.Keys(kv.m)) {
			g := kv.m[k]
			out = append(out, row("sla_compliance", kv.dim, k, "ratio", r.Evidence(stats.Descriptive, g.n), stats.Wilson(g.within, g.n, c)))
		}
	}
	// 7. Security debt; 8. fix capacity (fixed / opened).
	out = append(out, total("security_debt", "all", "pooled", "count", opened, float64(debt)))
	fc := total("fix_capacity", "all", "pooled", "ratio", opened, math.NaN())
	fc.Method = "ratio"
	if opened > 0 {
		fc.Estimate = float64(fixed) / float64(opened)
	}
	out = append(out, fc)
	return out, nil
}

func departmentStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time) ([]Stat, error) {
	var out []Stat
	r, c := o.Rules, o.Confidence
	// 15. Cost of risk per department (sum of the scorecard).
	rows, err := conn.Query(ctx, qCostOfRisk)
	if err != nil {
		return nil, fmt.Errorf("read department_scorecard: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dept string
		var cost float64
		var incidents uint64
		if err := rows.Scan(&dept, &cost, &incidents); err != nil {
			return nil, fmt.Errorf("read department_scorecard: %w", err)
		}
		out = append(out, total("cost_of_risk_usd", "department", dept, "usd", int(incidents), cost))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read department_scorecard: %w", err)
	}
	// 14. Vendor assessment cost and cycle time per department.
	vcost := map[string]float64{}
	vcycle := map[string][]float64{}
	vn := map[string]int{}
	vrows, err := conn.Query(ctx, qVendors)
	if err != nil {
		return nil, fmt.Errorf("read vendor assessments: %w", err)
	}
	defer vrows.Close()
	for vrows.Next() {
		var dept string
		var cost float64
		var cyc *float64
		if err := vrows.Scan(&dept, &cost, &cyc); err != nil {
			return nil, fmt.Errorf("read vendor assessments: %w", err)
		}
		vn[dept]++
		vcost[dept] += cost
		if cyc != nil {
			vcycle[dept] = append(vcycle[dept], *cyc)
		}
	}
	if err := vrows.Err(); err != nil {
		return nil, fmt.Errorf("read vendor assessments: %w", err)
	}
	for _, d := range slices.Sorted(maps.Keys(vn)) {
		out = append(out, total("vendor_assessment_cost_usd", "department", d, "usd", vn[d], vcost[d]))
		out = append(out, row("vendor_assessment_cycle_days", "department", d, "days", r.Evidence(stats.Descriptive, len(vcycle[d])), stats.MedianCI(vcycle[d], c)))
	}
	// 16. Open policy exceptions per department and how long they stay
	// open (Kaplan-Meier median, open ones censored at as-of).
	type pe struct {
		open int
		t    []float64
		obs  []bool
	}
	pes := map[string]*pe{}
	prows, err := conn.Query(ctx, bindAsOf(qExceptions, asOf))
	if err != nil {
		return nil, fmt.Errorf("read policy exceptions: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var dept string
		var days float64
		var resolved uint8
		if err := prows.Scan(&dept, &days, &resolved); err != nil {
			return nil, fmt.Errorf("read policy exceptions: %w", err)
		}
		if pes[dept] == nil {
			pes[dept] = &pe{}
		}
		g := pes[dept]
		if resolved == 0 {
			g.open++
		}
		g.t = append(g.t, days)
		g.obs = append(g.obs, resolved == 1)
	}
	if err := prows.Err(); err != nil {
		return nil, fmt.Errorf("read policy exceptions: %w", err)
	}
	for _, d := range slices.Sorted(maps.Keys(pes)) {
		g := pes[d]
		out = append(out, total("policy_exceptions_open", "department", d, "count", len(g.t), float64(g.open)))
		out = append(out, Stat{Metric: "policy_exception_open_days_median", Dimension: "department", Value: d, N: len(g.t),
			Estimate: stats.KaplanMeierQuantile(g.t, g.obs, 0.5), Low: math.NaN(), High: math.NaN(), Method: "kaplan_meier",
			Evidence: r.Evidence(stats.Descriptive, len(g.t)), P: math.NaN(), PAdjusted: math.NaN(), Unit: "days"})
	}
	return out, nil
}

// bootstrapMaxN is the largest sample the gate delay is bootstrapped for.
const bootstrapMaxN = 100_000

// resamples is the bootstrap replicate count: Options.Resamples when set,
// else stats.DefaultResamples, reduced for very large samples so one
// refresh does at most about 2e8 draws (at least 200 replicates; the
// interval is then already narrow).
func resamples(set, n int) int {
	if set > 0 {
		return set
	}
	b := stats.DefaultResamples
	if n > 0 && b*n > 200_000_000 {
		b = max(200, 200_000_000/n)
	}
	return b
}

// bindAsOf inlines the as-of time of a stats query.
func bindAsOf(q string, asOf time.Time) string {
	out, _ := params{"asof": asOf.Unix()}.bind(q) // every @name in queries.go is @asof
	return out
}

const statsInsertColumns = "metric, dimension, dimension_value, n, estimate, ci_low, ci_high, method, evidence, p_value, p_adjusted, unit, as_of, computed_at"

// StatsStatements returns the SQL the impact_stats step sends: the reads of
// the fact tables (as-of time inlined), the table DDL, a sample row insert
// and both swaps (first build and replace), for checks on other servers.
func StatsStatements() []string {
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	out := []string{}
	for _, q := range []string{qDeals, qDeploymentGroups, qDeploymentLeads, qSecurityFix, qTicketGroups, qFindingGroups, qCostOfRisk, qVendors, qExceptions} {
		out = append(out, bindAsOf(q, asOf))
	}
	ddl, _ := sqlFS.ReadFile("sql/" + StatsTable + ".ddl.sql")
	for _, exists := range []bool{false, true} {
		next := StatsTable + "_next"
		out = append(out, "DROP TABLE IF EXISTS "+next)
		s, _ := statements(StatsTable+".ddl.sql", string(ddl), tmplData{Table: next})
		out = append(out, s...)
		out = append(out, "INSERT INTO "+next+" ("+statsInsertColumns+") VALUES ('win_rate', 'review_bucket', 'fast', 70, 0.8, 0.69, 0.88, 'wilson', 'descriptive', NULL, NULL, 'ratio', toDateTime(0), toDateTime(0))")
		out = append(out, swapSteps(StatsTable, exists)...)
	}
	return out
}
