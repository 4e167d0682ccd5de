package transform_test

import (
	"context"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlparam"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/stats"
)

// TestStatsPreAggregatedEqualPerRow: impact_stats reads findings,
// deployments and tickets pre-aggregated (counts, one array per group per
// month); the whole-data figures must equal those computed from one row
// per finding, deployment and ticket read in key order: bit for bit,
// except for the CSAT t statistics, whose sums run in another order (equal
// to rounding).
func TestStatsPreAggregatedEqualPerRow(t *testing.T) {
	ctx := context.Background()
	cfg, conn := openDB(t)
	truth, err := pipelinetest.Fill(ctx, cfg, conn, simulate.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	asOf := truth.End.UTC().Truncate(time.Second)
	got, err := transform.ComputeStats(ctx, conn, transform.StatsOptions{}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	// finding_groups holds open findings' ages as of the refresh: figures
	// as of another time are refused, not mixed.
	if _, err := transform.ComputeStats(ctx, conn, transform.StatsOptions{}, asOf.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "finding_groups is as of") {
		t.Errorf("ComputeStats an hour after the refresh's as-of time: %v, want an error naming finding_groups' as-of time", err)
	}
	type fig struct {
		n                  int
		est, low, high, pv float64
	}
	want := map[string]fig{}
	nan := math.NaN()
	put := func(metric, dim, val string, n int, est, low, high, p float64) {
		want[metric+"/"+dim+"/"+val] = fig{n, est, low, high, p}
	}

	// Findings, one row each.
	q, err := sqlparam.Bind(`SELECT team, department, severity, status, if(isNull(sla_cohort_month), NULL, within_sla),
    (toInt64(multiIf(status = 'fixed', ifNull(fixed_at, last_event_time),
                     status = 'dismissed', ifNull(dismissed_at, last_event_time),
                     toDateTime(@asof))) - toInt64(detected_at)) / 86400 AS days,
    toUInt8(status = 'open' AND severity IN ('critical', 'high') AND detected_at < toDateTime(@asof) - 365 * 86400) AS debt
FROM findings ORDER BY finding_id`, map[string]int64{"asof": asOf.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	type ttf struct {
		t   []float64
		obs []bool
	}
	type wn struct{ x, n int }
	ttfs := map[string]*ttf{}
	slas := map[string]*wn{}
	var opened, fixed, debt int
	for rows.Next() {
		var team, dept, sev, status string
		var within *uint8
		var days float64
		var d uint8
		if err := rows.Scan(&team, &dept, &sev, &status, &within, &days, &d); err != nil {
			t.Fatal(err)
		}
		opened++
		debt += int(d)
		if status == "fixed" {
			fixed++
		}
		for _, k := range []string{"severity/" + sev, "team/" + team} {
			if ttfs[k] == nil {
				ttfs[k] = &ttf{}
			}
			ttfs[k].t = append(ttfs[k].t, days)
			ttfs[k].obs = append(ttfs[k].obs, status == "fixed")
		}
		if within != nil {
			for _, k := range []string{"team/" + team, "department/" + dept} {
				if slas[k] == nil {
					slas[k] = &wn{}
				}
				slas[k].n++
				slas[k].x += int(*within)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for k, g := range ttfs {
		dim, val, _ := strings.Cut(k, "/")
		put("mttr_days_median", dim, val, len(g.t), stats.KaplanMeierQuantile(g.t, g.obs, 0.5), nan, nan, nan)
		put("mttr_days_p90", dim, val, len(g.t), stats.KaplanMeierQuantile(g.t, g.obs, 0.9), nan, nan, nan)
	}
	for k, g := range slas {
		dim, val, _ := strings.Cut(k, "/")
		e := stats.Wilson(g.x, g.n, 0.95)
		put("sla_compliance", dim, val, g.n, e.Value, e.Low, e.High, nan)
	}
	put("security_debt", "all", "pooled", opened, float64(debt), nan, nan, nan)
	put("fix_capacity", "all", "pooled", opened, float64(fixed)/float64(opened), nan, nan, nan)

	// Deployments, one row each, in deployment order; lead times like
	// with like: successful production deployments, services as clusters.
	rows, err = conn.Query(ctx, `SELECT department, team, service_id, environment, status, gate_blocked, gate_waived, lead_time_hours FROM deployment_facts ORDER BY deployment_id`)
	if err != nil {
		t.Fatal(err)
	}
	type cnt struct{ blocked, waived, n int }
	byDept := map[string]*cnt{"": {}}
	byTeam := map[string]*cnt{}
	var blocked, unblocked []float64
	var svcB, svcU []string // service of each lead time
	for rows.Next() {
		var dept, team, svc, env, status string
		var b, w uint8
		var lead *float64
		if err := rows.Scan(&dept, &team, &svc, &env, &status, &b, &w, &lead); err != nil {
			t.Fatal(err)
		}
		if byDept[dept] == nil {
			byDept[dept] = &cnt{}
		}
		if byTeam[team] == nil {
			byTeam[team] = &cnt{}
		}
		for _, c := range []*cnt{byDept[dept], byDept[""], byTeam[team]} {
			c.n++
			c.blocked += int(b)
			c.waived += int(w)
		}
		if lead != nil && *lead >= 0 && status == "success" && env == "production" {
			if b == 1 {
				blocked, svcB = append(blocked, *lead), append(svcB, svc)
			} else {
				unblocked, svcU = append(unblocked, *lead), append(svcU, svc)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for d, c := range byDept {
		e := stats.Wilson(c.blocked, c.n, 0.95)
		if d == "" {
			put("gate_block_rate", "all", "pooled", c.n, e.Value, e.Low, e.High, nan)
			w := stats.Wilson(c.waived, c.blocked+c.waived, 0.95)
			put("gate_waived_share", "all", "pooled", c.blocked+c.waived, w.Value, w.Low, w.High, nan)
			continue
		}
		put("gate_block_rate", "department", d, c.n, e.Value, e.Low, e.High, nan)
	}
	for tm, c := range byTeam {
		e := stats.Wilson(c.blocked, c.n, 0.95)
		put("gate_block_rate", "team", tm, c.n, e.Value, e.Low, e.High, nan)
	}
	for v, x := range map[string][]float64{"1": blocked, "0": unblocked} {
		e := stats.MedianCI(x, 0.95)
		put("deploy_lead_time_hours", "gate_blocked", v, len(x), e.Value, e.Low, e.High, nan)
	}
	// Services as clusters, numbered in name order as the refresh does
	// (the bootstrap draws clusters in number order); the gate delay's
	// cluster bootstrap and the naive one beside it.
	names := append(append([]string(nil), svcB...), svcU...)
	sort.Strings(names)
	num := func(svcs []string) []int {
		out := make([]int, len(svcs))
		for i, n := range svcs {
			out[i] = sort.SearchStrings(names, n)
		}
		return out
	}
	cb, cu := num(svcB), num(svcU)
	_, p := stats.MannWhitney(blocked, unblocked)
	cbs := stats.ClusterBootstrapMedianDiff(blocked, cb, unblocked, cu, stats.DefaultResamples, 0.95, 1)
	bs := stats.MedianDiffMcKeanSchrader(blocked, unblocked, 0.95)

	// Security-fix lead times (metric 11), one per finding a shipped fix
	// names, from deployment_facts and findings joined here (the refresh
	// reads the ones dora_changes keeps).
	detected := map[string]int64{}
	rows, err = conn.Query(ctx, `SELECT finding_id, toInt64(detected_at) FROM findings`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var d int64
		if err := rows.Scan(&id, &d); err != nil {
			t.Fatal(err)
		}
		detected[id] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = conn.Query(ctx, `SELECT toInt64(assumeNotNull(finished_at)), fixes_finding_ids FROM deployment_facts
WHERE trigger = 'security_fix' AND environment = 'production' AND status = 'success' AND isNotNull(finished_at)`)
	if err != nil {
		t.Fatal(err)
	}
	var fixLeads []float64
	for rows.Next() {
		var fin int64
		var ids []string
		if err := rows.Scan(&fin, &ids); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if d, ok := detected[id]; ok {
				fixLeads = append(fixLeads, float64(fin-d)/3600)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(fixLeads) == 0 {
		t.Fatal("no security fix names a finding: metric 11 is untested")
	}
	sort.Float64s(fixLeads)
	fl := stats.MedianCI(fixLeads, 0.95)
	put("security_fix_lead_time_hours", "all", "median", len(fixLeads), fl.Value, fl.Low, fl.High, nan)

	// Tickets, one row each, in ticket order. Their t statistics sum
	// floating-point values in a different order than the refresh (score
	// order), so these agree to rounding, not bit for bit.
	rows, err = conn.Query(ctx, `SELECT account_id, after_incident_30d, security_related, csat_score, affected
FROM (SELECT ticket_id, account_id, after_incident_30d, security_related, csat_score FROM ticket_facts) AS l
ALL LEFT JOIN
(
    SELECT DISTINCT arrayJoin(accounts) AS account_id, toUInt8(1) AS affected
    FROM (SELECT incident_id, tupleElement(argMax(tuple(affected_account_ids), tuple(event_time, event_id)), 1) AS accounts
          FROM incident_events GROUP BY incident_id)
) AS r USING account_id
ORDER BY ticket_id`)
	if err != nil {
		t.Fatal(err)
	}
	type acct struct{ after, before []float64 }
	accounts := map[string]*acct{}
	var after, base []float64
	var nt, sec, nAfter, secAfter int
	for rows.Next() {
		var id string
		var a, s, affected uint8
		var csat *uint8
		if err := rows.Scan(&id, &a, &s, &csat, &affected); err != nil {
			t.Fatal(err)
		}
		nt++
		sec += int(s)
		if a == 1 {
			nAfter++
			secAfter += int(s)
		}
		if csat == nil {
			continue
		}
		v := float64(*csat)
		if a == 1 {
			after = append(after, v)
		} else if affected == 1 {
			base = append(base, v)
		}
		if affected == 1 {
			if accounts[id] == nil {
				accounts[id] = &acct{}
			}
			if a == 1 {
				accounts[id].after = append(accounts[id].after, v)
			} else {
				accounts[id].before = append(accounts[id].before, v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	approx := map[string]bool{}
	add := func(k string, e stats.Estimate, p float64) {
		f := strings.SplitN(k, "/", 3)
		put(f[0], f[1], f[2], e.N, e.Value, e.Low, e.High, p)
		approx[k] = true
	}
	add("csat/after_incident_30d/1", stats.MeanT(after, 0.95), nan)
	add("csat/after_incident_30d/0_affected_accounts", stats.MeanT(base, 0.95), nan)
	wd, wp := stats.WelchDiff(after, base, 0.95)
	add("csat_incident_drop/all/after_minus_own_baseline", wd, wp)
	var paired []float64
	var ids []string
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	meanOf := func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	for _, id := range ids {
		if a := accounts[id]; len(a.after) > 0 && len(a.before) > 0 {
			paired = append(paired, meanOf(a.after)-meanOf(a.before))
		}
	}
	add("csat_incident_drop/paired/account", stats.MeanT(paired, 0.95), nan)
	put("security_ticket_volume", "all", "pooled", nt, float64(sec), nan, nan, nan)
	sa := stats.Wilson(secAfter, nAfter, 0.95)
	put("security_ticket_share", "after_incident_30d", "1", nAfter, sa.Value, sa.Low, sa.High, nan)
	sb := stats.Wilson(sec-secAfter, nt-nAfter, 0.95)
	put("security_ticket_share", "after_incident_30d", "0", nt-nAfter, sb.Value, sb.Low, sb.High, nan)

	exact := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	seen := map[string]bool{}
	for _, s := range got {
		if s.Period.Name != "all" {
			continue
		}
		k := s.Metric + "/" + s.Dimension + "/" + s.Value
		w, ok := want[k]
		if k == "gate_delay_hours/all/blocked_minus_unblocked" {
			w, ok = fig{len(blocked) + len(unblocked), cbs.Value, cbs.Low, cbs.High, p}, true
			if !exact(s.NaiveLow, bs.Low) || !exact(s.NaiveHigh, bs.High) {
				t.Errorf("%s naive interval [%v, %v], per row [%v, %v]", k, s.NaiveLow, s.NaiveHigh, bs.Low, bs.High)
			}
		}
		if !ok {
			continue
		}
		seen[k] = true
		same := exact
		if approx[k] {
			same = func(a, b float64) bool { return exact(a, b) || math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
		}
		if s.N != w.n || !same(s.Estimate, w.est) || !same(s.Low, w.low) || !same(s.High, w.high) || (!math.IsNaN(w.pv) && !same(s.P, w.pv)) {
			t.Errorf("%s: n=%d %v [%v, %v] p=%v; per row: n=%d %v [%v, %v] p=%v", k, s.N, s.Estimate, s.Low, s.High, s.P, w.n, w.est, w.low, w.high, w.pv)
		}
	}
	var missing []string
	for k := range want {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("impact_stats lacks %v", missing)
	}
	if len(seen) < 20 {
		t.Errorf("only %d figures compared", len(seen))
	}
}
