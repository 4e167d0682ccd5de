package transform_test

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/stats"
)

// TestStatsPreAggregatedEqualPerRow: impact_stats reads findings and
// deployments pre-aggregated (counts and one array per group); the figures
// must equal, bit for bit, those computed from one row per finding and
// deployment read in key order.
func TestStatsPreAggregatedEqualPerRow(t *testing.T) {
	ctx := context.Background()
	conn := open(t)
	truth, err := pipelinetest.Fill(ctx, conn, simulate.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	asOf := truth.End.UTC().Truncate(time.Second)
	got, err := transform.ComputeStats(ctx, conn, transform.StatsOptions{}, asOf)
	if err != nil {
		t.Fatal(err)
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
	rows, err := conn.Query(ctx, strings.ReplaceAll(`SELECT team, department, severity, status, within_sla,
    (toInt64(multiIf(status = 'fixed', ifNull(fixed_at, last_event_time),
                     status = 'dismissed', ifNull(dismissed_at, last_event_time),
                     toDateTime(@asof))) - toInt64(detected_at)) / 86400 AS days,
    toUInt8(status = 'open' AND severity IN ('critical', 'high') AND detected_at < toDateTime(@asof) - 365 * 86400) AS debt
FROM findings ORDER BY finding_id`, "@asof", strconv.FormatInt(asOf.Unix(), 10)))
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

	// Deployments, one row each, in deployment order.
	rows, err = conn.Query(ctx, `SELECT department, gate_blocked, gate_waived, lead_time_hours FROM deployment_facts ORDER BY deployment_id`)
	if err != nil {
		t.Fatal(err)
	}
	type cnt struct{ blocked, waived, n int }
	byDept := map[string]*cnt{"": {}}
	var blocked, unblocked []float64
	for rows.Next() {
		var dept string
		var b, w uint8
		var lead *float64
		if err := rows.Scan(&dept, &b, &w, &lead); err != nil {
			t.Fatal(err)
		}
		if byDept[dept] == nil {
			byDept[dept] = &cnt{}
		}
		for _, c := range []*cnt{byDept[dept], byDept[""]} {
			c.n++
			c.blocked += int(b)
			c.waived += int(w)
		}
		if lead != nil {
			if b == 1 {
				blocked = append(blocked, *lead)
			} else {
				unblocked = append(unblocked, *lead)
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
	for v, x := range map[string][]float64{"1": blocked, "0": unblocked} {
		e := stats.MedianCI(x, 0.95)
		put("deploy_lead_time_hours", "gate_blocked", v, len(x), e.Value, e.Low, e.High, nan)
	}
	// Both intervals of the gate delay, whichever the refresh picked.
	_, p := stats.MannWhitney(blocked, unblocked)
	ms := stats.MedianDiffMcKeanSchrader(blocked, unblocked, 0.95)
	bs := stats.BootstrapMedianDiff(blocked, unblocked, stats.DefaultResamples, 0.95, 1)

	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	seen := map[string]bool{}
	for _, s := range got {
		k := s.Metric + "/" + s.Dimension + "/" + s.Value
		w, ok := want[k]
		if k == "gate_delay_hours/all/blocked_minus_unblocked" {
			e := bs
			if s.Method == ms.Method {
				e = ms
			}
			w, ok = fig{len(blocked) + len(unblocked), e.Value, e.Low, e.High, p}, true
		}
		if !ok {
			continue
		}
		seen[k] = true
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
