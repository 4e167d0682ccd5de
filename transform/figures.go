package transform

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/secimpact/impact/transform/stats"
)

// computeStats turns a statsInput into impact_stats rows: every figure for
// all data and per calendar year, quarter and month. It reads nothing and
// is deterministic (the bootstraps are seeded), so the same input always
// gives the same rows. This is the one computation of every figure the
// dashboards, the brief and the demo show.
//
// The families share no state (each reads its own inputs, which none
// modifies, and adds rows to its own computer), so they run concurrently,
// one goroutine each: at 10 million events they cost several seconds of
// CPU per refresh, and a refresh waits for the slowest family instead of
// their sum. Their rows are concatenated in the fixed family order, so the
// output does not depend on the schedule.
func computeStats(in *statsInput, o StatsOptions) []Stat {
	out, _ := runFamilies(context.Background(), in, o, func(context.Context, []statsPart) error { return nil })
	return out
}

// A statsFamily is one family of figures and the parts of the input it
// reads.
type statsFamily struct {
	needs []statsPart
	run   func(c *computer, in *statsInput)
}

var statsFamilies = []statsFamily{
	{[]statsPart{partDeals}, func(c *computer, in *statsInput) { c.deals(in.Deals) }},
	{[]statsPart{partDeals}, func(c *computer, in *statsInput) { c.changes(in.Deals) }},
	{[]statsPart{partDeployments, partSecurityFix}, func(c *computer, in *statsInput) { c.deployments(in.Deployments, in.SecurityFix) }},
	{[]statsPart{partTickets}, func(c *computer, in *statsInput) { c.tickets(in.Tickets) }},
	{[]statsPart{partFindings}, func(c *computer, in *statsInput) { c.findings(in.Findings) }},
	// The "all" period of the department figures spans every part.
	{allParts(), func(c *computer, in *statsInput) { c.departments(in) }},
}

func allParts() []statsPart {
	ps := make([]statsPart, numParts)
	for i := range ps {
		ps[i] = statsPart(i)
	}
	return ps
}

// runFamilies computes every family of figures, each once loaded says the
// parts it needs are in in (a refresh computes the figures of the deals
// while other tables are still being read or built), and concatenates
// their rows in the fixed family order.
func runFamilies(ctx context.Context, in *statsInput, o StatsOptions, loaded func(context.Context, []statsPart) error) ([]Stat, error) {
	outs := make([][]Stat, len(statsFamilies))
	errs := make([]error, len(statsFamilies))
	var wg sync.WaitGroup
	for i, f := range statsFamilies {
		wg.Go(func() {
			if errs[i] = loaded(ctx, f.needs); errs[i] != nil {
				return
			}
			c := newComputer(o)
			f.run(c, in)
			outs[i] = c.out
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return nil, err
	}
	return slices.Concat(outs...), nil
}

func newComputer(o StatsOptions) *computer {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Confidence == 0 {
		o.Confidence = stats.DefaultConfidence
	}
	c := &computer{o: o, r: o.Rules, conf: o.Confidence, minN: o.Rules.MinN}
	if c.minN <= 0 {
		c.minN = stats.DefaultMinN
	}
	return c
}

type computer struct {
	o    StatsOptions
	r    stats.Rules
	conf float64
	minN int
	out  []Stat
	per  Period // the period rows are added for
}

// add appends a row for the current period: the estimate with its
// interval, evidence level (insufficient when any of ns is below the
// minimum n) and the minimum-n verdict.
func (c *computer) add(metric, dim, val, unit, level string, e stats.Estimate, ns ...int) *Stat {
	enough := c.r.Enough(ns...)
	ev := level
	if !enough {
		ev = stats.Insufficient
	}
	c.out = append(c.out, Stat{Metric: metric, Dimension: dim, Value: val, N: e.N, Estimate: e.Value, Low: e.Low, High: e.High,
		Method: e.Method, Evidence: ev, P: math.NaN(), PAdjusted: math.NaN(), Unit: unit, Period: c.per,
		NaiveLow: math.NaN(), NaiveHigh: math.NaN(), MDE: math.NaN(), MinN: c.minN, Enough: enough})
	return &c.out[len(c.out)-1]
}

// total appends a sum (no interval, no minimum n: a total is not an
// estimate).
func (c *computer) total(metric, dim, val, unit string, n int, v float64) *Stat {
	c.out = append(c.out, Stat{Metric: metric, Dimension: dim, Value: val, N: n, Estimate: v, Low: math.NaN(), High: math.NaN(),
		Method: "sum", Evidence: stats.Descriptive, P: math.NaN(), PAdjusted: math.NaN(), Unit: unit, Period: c.per,
		NaiveLow: math.NaN(), NaiveHigh: math.NaN(), MDE: math.NaN(), MinN: c.minN, Enough: true})
	return &c.out[len(c.out)-1]
}

// clustered records the independence interval beside a cluster-robust one
// and the minimum detectable effect at 80% power of the comparison.
func (s *Stat) clustered(cluster string, e, naive stats.Estimate, conf float64) {
	s.Cluster, s.Clusters = cluster, e.Clusters
	s.NaiveLow, s.NaiveHigh = naive.Low, naive.High
	s.MDE = stats.MinimumDetectableEffect(stats.StandardError(e, conf), e.DF, conf, stats.DefaultPower)
}

var (
	buckets  = []string{"none", "fast", "medium", "slow", "incomplete"}
	segments = []string{"smb", "mid_market", "enterprise"}
)

// ids numbers strings in sorted order, so cluster numbers (and the sums
// over clusters) do not depend on row order.
func ids(keys []string) map[string]int {
	u := map[string]bool{}
	for _, k := range keys {
		u[k] = true
	}
	s := make([]string, 0, len(u))
	for k := range u {
		s = append(s, k)
	}
	sort.Strings(s)
	out := make(map[string]int, len(s))
	for i, k := range s {
		out[k] = i
	}
	return out
}

func (c *computer) deals(deals []dealRow) {
	keys := make([]string, len(deals))
	for i, d := range deals {
		keys[i] = d.Account
	}
	acct := ids(keys)
	segIdx := map[string]int{}
	for i, s := range segments {
		segIdx[s] = i
	}
	for _, p := range byPeriod(len(deals), func(i int) month { return deals[i].Month }) {
		c.per = p.Period
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
		var obs []stats.Obs
		slowUSD := map[string]float64{}
		slowN := map[string]int{}
		for _, i := range p.Items {
			d := &deals[i]
			won := 0
			if d.Won {
				won = 1
			}
			if g := byB[d.Bucket]; g != nil {
				g.n++
				g.won += won
			}
			if g := bySB[d.Segment+"/"+d.Bucket]; g != nil {
				g.n++
				g.won += won
			}
			cycle[d.Bucket] = append(cycle[d.Bucket], d.Cycle)
			if d.Outcome == "lost" && d.Loss == "security" {
				lostSec += d.Amount
				nLostSec++
				lostSecSeg[d.Segment] += d.Amount
				nLostSecSeg[d.Segment]++
			}
			if d.Turnaround != nil && d.ReviewBucket != "none" && d.ReviewBucket != "incomplete" {
				turn = append(turn, *d.Turnaround)
				wonF = append(wonF, float64(won))
				if d.Cycle > 0 {
					share = append(share, *d.Turnaround/d.Cycle)
				}
			}
			if s, ok := segIdx[d.Segment]; ok && (d.Bucket == "fast" || d.Bucket == "slow") {
				obs = append(obs, stats.Obs{Y: float64(won), X: d.Bucket == "fast", Stratum: s, Cluster: acct[d.Account]})
				if d.Bucket == "slow" {
					slowUSD[d.Segment] += d.Amount
					slowN[d.Segment]++
				}
			}
		}
		r, conf := c.r, c.conf
		// 1. Win rate by landmark bucket; fast minus slow pooled, per
		// segment (BH across segments) and stratified by segment.
		for _, b := range buckets {
			g := byB[b]
			c.add("win_rate", "review_bucket", b, "ratio", stats.Descriptive, stats.Wilson(g.won, g.n, conf), g.n)
			for _, s := range segments {
				g := bySB[s+"/"+b]
				c.add("win_rate", "segment_review_bucket", s+"/"+b, "ratio", stats.Descriptive, stats.Wilson(g.won, g.n, conf), g.n)
			}
		}
		f, s := byB["fast"], byB["slow"]
		pooled := stats.ClusterDiff(obs, conf)
		naive := stats.NewcombeDiff(f.won, f.n, s.won, s.n, conf)
		pooled.N = f.n + s.n
		row := c.add("win_rate_diff_fast_minus_slow", "all", "pooled", "ratio", stats.Descriptive, pooled, f.n, s.n)
		row.clustered("account", pooled, naive, conf)
		row.P = stats.TwoProportionP(f.won, f.n, s.won, s.n)
		row.Note = "confounded by segment: quote the stratified figure"
		var segRows []*Stat
		var ps []float64
		var strata, used []stats.Stratum
		var usedNames, leftOut []string
		var usedEst, usedVar []float64
		for si, seg := range segments {
			fs, ss := bySB[seg+"/fast"], bySB[seg+"/slow"]
			st := stats.Stratum{X1: fs.won, N1: fs.n, X0: ss.won, N0: ss.n}
			strata = append(strata, st)
			var segObs []stats.Obs
			for _, o := range obs {
				if o.Stratum == si {
					segObs = append(segObs, o)
				}
			}
			e := stats.ClusterDiff(segObs, conf)
			row := c.add("win_rate_diff_fast_minus_slow", "segment", seg, "ratio", stats.Descriptive, e, fs.n, ss.n)
			row.clustered("account", e, stats.NewcombeDiff(fs.won, fs.n, ss.won, ss.n, conf), conf)
			row.P = stats.TwoProportionP(fs.won, fs.n, ss.won, ss.n)
			segRows = append(segRows, row)
			ps = append(ps, row.P)
			if r.Enough(fs.n, ss.n) {
				used = append(used, st)
				usedNames = append(usedNames, seg)
				usedEst, usedVar = append(usedEst, e.Value), append(usedVar, e.SE*e.SE)
			} else if fs.n+ss.n > 0 {
				leftOut = append(leftOut, seg)
			}
		}
		for i, q := range stats.BenjaminiHochberg(ps) {
			segRows[i].PAdjusted = q
		}
		// The stratified estimate uses the segments with at least the
		// minimum n fast and slow deals; the others are named in the note.
		inUsed := map[int]bool{}
		for si, seg := range segments {
			for _, u := range usedNames {
				if u == seg {
					inUsed[si] = true
				}
			}
		}
		stratObs := obs
		mhStrata := strata
		if len(used) > 0 {
			stratObs = nil
			for _, o := range obs {
				if inUsed[o.Stratum] {
					stratObs = append(stratObs, o)
				}
			}
			mhStrata = used
		}
		adj := stats.ClusterStratifiedDiff(stratObs, conf)
		mh := stats.MantelHaenszelRD(mhStrata, conf)
		level := stats.Adjusted
		nf, ns := 0, 0
		for _, st := range mhStrata {
			nf += st.N1
			ns += st.N0
		}
		if len(used) == 0 {
			nf, ns = 0, 0 // no segment meets the minimum: insufficient
		}
		row = c.add("win_rate_diff_fast_minus_slow", "stratified", "segment", "ratio", level, adj, nf, ns)
		row.clustered("account", adj, mh, conf)
		row.Note = strataNote(usedNames, leftOut, c.minN)
		// Heterogeneity across the segments used: Cochran's Q of the
		// per-segment differences (cluster-robust variances), the scale the
		// stratified figure is on; Breslow-Day (Tarone) for the odds ratio.
		q, qp := stats.CochranQ(usedEst, usedVar)
		het := c.add("win_rate_diff_heterogeneity", "stratified", "segment", "chi2", stats.Descriptive,
			stats.Estimate{N: adj.N, Value: q, Low: math.NaN(), High: math.NaN(), Method: "cochran_q_cluster_variance"}, nf, ns)
		het.P = qp
		het.Note = "does the fast-minus-slow difference differ between " + strings.Join(orAll(usedNames), ", ") + "? a small p_value says it does: read the segments, not only the stratified figure"
		chi2, bp := stats.BreslowDay(mhStrata, true)
		bd := c.add("win_rate_diff_heterogeneity", "stratified", "segment_odds_ratio", "chi2", stats.Descriptive,
			stats.Estimate{N: adj.N, Value: chi2, Low: math.NaN(), High: math.NaN(), Method: "breslow_day_tarone"}, nf, ns)
		bd.P = bp
		bd.Note = "homogeneity of the odds ratio across segments (segments with different base win rates differ in odds ratio even when the difference is the same)"
		// 2. Revenue recorded as lost to security, and revenue associated
		// with slow reviews: the adjusted difference times the slow-review
		// pipeline of the segments used.
		c.total("revenue_lost_security_usd", "all", "pooled", "usd", nLostSec, lostSec).Note = "what sales recorded as the loss reason, not a causal estimate"
		for _, seg := range segments {
			c.total("revenue_lost_security_usd", "segment", seg, "usd", nLostSecSeg[seg], lostSecSeg[seg])
		}
		var pipe float64
		var nSlow int
		for _, seg := range orAll(usedNames) {
			pipe += slowUSD[seg]
			nSlow += slowN[seg]
		}
		if len(usedNames) == 0 {
			pipe, nSlow = 0, 0
			for _, seg := range segments {
				pipe += slowUSD[seg]
				nSlow += slowN[seg]
			}
		}
		rev := stats.Estimate{N: nSlow, Value: adj.Value * pipe, Low: adj.Low * pipe, High: adj.High * pipe,
			Method: "stratified_rd_x_slow_pipeline", SE: adj.SE * pipe, DF: adj.DF, Clusters: adj.Clusters}
		row = c.add("revenue_associated_slow_reviews_usd", "stratified", "segment", "usd", stats.Adjusted, rev, nf, ns)
		row.clustered("account", rev, stats.Estimate{Low: mh.Low * pipe, High: mh.High * pipe}, conf)
		row.Note = fmt.Sprintf("adjusted fast-minus-slow win-rate difference x %.0f USD of slow-review deals (%d deals) in %s: what slow-review deals would have won at the fast-review rate, if the association held", pipe, nSlow, strings.Join(orAll(usedNames), ", "))
		// 3. Review turnaround (completed reviews) and its share of the
		// cycle; Spearman and Pearson of turnaround with winning.
		c.add("review_turnaround_days", "all", "median", "days", stats.Descriptive, stats.MedianCI(turn, conf), len(turn))
		c.add("review_share_of_cycle", "all", "median", "ratio", stats.Descriptive, stats.MedianCI(share, conf), len(share))
		c.add("review_turnaround_vs_won", "all", "spearman", "rho", stats.Descriptive, stats.Spearman(turn, wonF, conf), len(turn))
		c.add("review_turnaround_vs_won", "all", "pearson", "r", stats.Descriptive, stats.Pearson(turn, wonF, conf), len(turn))
		// 4. Deal cycle by bucket.
		for _, b := range buckets {
			c.add("deal_cycle_days", "review_bucket", b, "days", stats.Descriptive, stats.MedianCI(cycle[b], conf), len(cycle[b]))
		}
	}
}

func orAll(segs []string) []string {
	if len(segs) == 0 {
		return segments
	}
	return segs
}

func strataNote(used, left []string, minN int) string {
	switch {
	case len(used) == 0:
		return fmt.Sprintf("no segment has %d fast and %d slow deals: too few to quote", minN, minN)
	case len(left) == 0:
		return "within segments: " + strings.Join(used, ", ")
	default:
		return fmt.Sprintf("within segments: %s; left out (fewer than %d fast or slow deals): %s", strings.Join(used, ", "), minN, strings.Join(left, ", "))
	}
}

// changes computes the difference-in-differences of every named process
// change (StatsOptions.Changes) over all deals: deals that required a
// security review (the group a review-process change applies to) against
// deals that did not, closed before and after the change, clustered by
// account; and the same comparison at the midpoint of the data before the
// change, where it should find nothing if the trends were parallel.
func (c *computer) changes(deals []dealRow) {
	if len(c.o.Changes) == 0 || len(deals) == 0 {
		return
	}
	keys := make([]string, len(deals))
	var lo, hi month
	for i, d := range deals {
		keys[i] = d.Account
		if lo == 0 || d.Month < lo {
			lo = d.Month
		}
		if d.Month > hi {
			hi = d.Month
		}
	}
	acct := ids(keys)
	c.per = Period{Name: "all", Grain: GrainAll, Start: lo.start(), End: hi.start().AddDate(0, 1, 0)}
	for _, ch := range c.o.Changes {
		cm := month(ch.Date.UTC().Year()*100 + int(ch.Date.UTC().Month()))
		did := func(rows []dealRow, split month) (stats.Estimate, [4]int) {
			var obs []stats.DiDObs
			var n [4]int
			for _, d := range rows {
				y := 0.0
				if d.Won {
					y = 1
				}
				o := stats.DiDObs{Y: y, Treated: d.ReviewRequired, After: d.Month >= split, Cluster: acct[d.Account]}
				obs = append(obs, o)
				k := 0
				if o.Treated {
					k += 2
				}
				if o.After {
					k++
				}
				n[k]++
			}
			return stats.DiffInDiff(obs, c.conf), n
		}
		e, n := did(deals, cm)
		row := c.add("win_rate_did", "change", ch.Name, "ratio", stats.QuasiExperiment, e, n[0], n[1], n[2], n[3])
		row.Cluster, row.Clusters = "account", e.Clusters
		row.MDE = stats.MinimumDetectableEffect(e.SE, e.DF, c.conf, stats.DefaultPower)
		row.P = stats.TwoSidedP(e)
		row.Note = fmt.Sprintf("change %s from %s (counted from the start of that month): win rate of deals that required a security review minus deals that did not, after minus before; assumes parallel trends (without the change both would have moved alike): see win_rate_did_placebo", ch.Name, ch.Date.UTC().Format(time.DateOnly))
		// Placebo: the months before the change split at their midpoint.
		var pre []dealRow
		seen := map[month]bool{}
		var months []month
		for _, d := range deals {
			if d.Month < cm {
				pre = append(pre, d)
				if !seen[d.Month] {
					seen[d.Month] = true
					months = append(months, d.Month)
				}
			}
		}
		if len(months) < 2 {
			continue
		}
		sort.Slice(months, func(a, b int) bool { return months[a] < months[b] })
		mid := months[len(months)/2]
		pe, pn := did(pre, mid)
		prow := c.add("win_rate_did_placebo", "change", ch.Name, "ratio", stats.QuasiExperiment, pe, pn[0], pn[1], pn[2], pn[3])
		prow.Cluster, prow.Clusters = "account", pe.Clusters
		prow.P = stats.TwoSidedP(pe)
		prow.Note = fmt.Sprintf("the same comparison on the deals before the change, split at %s: an interval far from 0 says the groups did not move in parallel, and the difference-in-differences is not to be trusted", mid.start().Format(time.DateOnly))
	}
}

func (c *computer) deployments(groups []deployGroup, fixes []fixLead) {
	// Like with like: the gate delay compares successful deployments of
	// one environment, the one with the most successful deployments
	// (production, usually) for the headline and every environment apart.
	envN := map[string]int{}
	for _, g := range groups {
		if g.Status == "success" {
			envN[g.Environment] += g.N
		}
	}
	headEnv := ""
	for _, e := range slices.Sorted(maps.Keys(envN)) {
		if envN[e] > envN[headEnv] || headEnv == "" {
			headEnv = e
		}
	}
	keys := make([]string, len(groups))
	var nLeads int
	for i, g := range groups {
		keys[i] = g.Service
		nLeads += len(g.Lead)
	}
	svc := ids(keys)
	// One replicate count for every period, sized by all the data: each
	// deployment is in four periods (month, quarter, year, all), so a
	// refresh resamples about 4 x resamples(n) x n values at most.
	boot := resamples(c.o.Resamples, nLeads)
	for _, p := range byPeriod(len(groups), func(i int) month { return groups[i].Month }) {
		c.per = p.Period
		type cnt struct{ blocked, waived, n int }
		byDept, byTeam := map[string]*cnt{}, map[string]*cnt{}
		var all cnt
		type leads struct {
			x, y   []float64
			cx, cy []int
		}
		byEnv := map[string]*leads{}
		for _, i := range p.Items {
			g := &groups[i]
			for _, k := range []struct {
				m map[string]*cnt
				k string
			}{{byDept, g.Department}, {byTeam, g.Team}} {
				if k.m[k.k] == nil {
					k.m[k.k] = &cnt{}
				}
			}
			for _, ct := range []*cnt{byDept[g.Department], byTeam[g.Team], &all} {
				ct.n += g.N
				if g.Blocked {
					ct.blocked += g.N
				}
				if g.Waived {
					ct.waived += g.N
				}
			}
			if g.Status != "success" || len(g.Lead) == 0 {
				continue
			}
			l := byEnv[g.Environment]
			if l == nil {
				l = &leads{}
				byEnv[g.Environment] = l
			}
			for _, v := range g.Lead {
				if g.Blocked {
					l.x, l.cx = append(l.x, v), append(l.cx, svc[g.Service])
				} else {
					l.y, l.cy = append(l.y, v), append(l.cy, svc[g.Service])
				}
			}
		}
		conf := c.conf
		// 9. Gate block rate and the share of blocking outcomes waived.
		c.add("gate_block_rate", "all", "pooled", "ratio", stats.Descriptive, stats.Wilson(all.blocked, all.n, conf), all.n)
		c.add("gate_waived_share", "all", "pooled", "ratio", stats.Descriptive, stats.Wilson(all.waived, all.blocked+all.waived, conf), all.blocked+all.waived)
		for _, d := range slices.Sorted(maps.Keys(byDept)) {
			g := byDept[d]
			c.add("gate_block_rate", "department", d, "ratio", stats.Descriptive, stats.Wilson(g.blocked, g.n, conf), g.n)
		}
		for _, t := range slices.Sorted(maps.Keys(byTeam)) {
			g := byTeam[t]
			c.add("gate_block_rate", "team", t, "ratio", stats.Descriptive, stats.Wilson(g.blocked, g.n, conf), g.n)
		}
		// 10. Lead time blocked vs unblocked, like with like: successful
		// deployments of one environment; the delay's interval resamples
		// services (cluster bootstrap), the naive one deployments.
		for _, env := range slices.Sorted(maps.Keys(byEnv)) {
			l := byEnv[env]
			// Every procedure below sorts its input (the figures do not
			// depend on the order); sorted once here, by value and
			// service, their sorts find it sorted and take linear time.
			sortWithClusters(l.x, l.cx)
			sortWithClusters(l.y, l.cy)
			if env == headEnv {
				c.add("deploy_lead_time_hours", "gate_blocked", "1", "hours", stats.Descriptive, stats.MedianCI(l.x, conf), len(l.x)).Note = "successful deployments to " + env
				c.add("deploy_lead_time_hours", "gate_blocked", "0", "hours", stats.Descriptive, stats.MedianCI(l.y, conf), len(l.y)).Note = "successful deployments to " + env
			}
			e := stats.ClusterBootstrapMedianDiff(l.x, l.cx, l.y, l.cy, boot, conf, c.o.Seed)
			// The independence interval beside it: McKean and Schrader's
			// normal interval, no resampling (it is only the comparison).
			naive := stats.MedianDiffMcKeanSchrader(l.x, l.y, conf)
			_, pv := stats.MannWhitney(l.x, l.y)
			dims := [][2]string{{"environment", env}}
			if env == headEnv {
				dims = append([][2]string{{"all", "blocked_minus_unblocked"}}, dims...)
			}
			for _, dv := range dims {
				row := c.add("gate_delay_hours", dv[0], dv[1], "hours", stats.Descriptive, e, len(l.x), len(l.y))
				row.clustered("service", e, naive, conf)
				row.P = pv
				row.Note = "successful deployments to " + env + ", gate-blocked minus not blocked"
			}
		}
	}
	// 11. Security-fix lead time, by the month the fix shipped.
	for _, p := range byPeriod(len(fixes), func(i int) month { return fixes[i].Month }) {
		c.per = p.Period
		h := make([]float64, len(p.Items))
		for k, i := range p.Items {
			h[k] = fixes[i].Hours
		}
		c.add("security_fix_lead_time_hours", "all", "median", "hours", stats.Descriptive, stats.MedianCI(h, c.conf), len(h))
	}
}

// timeRun is a sorted run of times that are all events (obs) or all
// censorings.
type timeRun struct {
	t   []float64
	obs bool
}

// mergeRuns merges sorted runs into times sorted as Kaplan-Meier sorts
// them (by time, events before censorings at equal times), with each
// time's observed flag: pairwise, in O(n log runs).
func mergeRuns(runs []timeRun) ([]float64, []bool) {
	type run struct {
		t   []float64
		obs []bool
	}
	rs := make([]run, len(runs))
	for i, r := range runs {
		o := make([]bool, len(r.t))
		if r.obs {
			for j := range o {
				o[j] = true
			}
		}
		rs[i] = run{r.t, o}
	}
	for len(rs) > 1 {
		next := make([]run, 0, (len(rs)+1)/2)
		for i := 0; i+1 < len(rs); i += 2 {
			a, b := rs[i], rs[i+1]
			m := run{make([]float64, 0, len(a.t)+len(b.t)), make([]bool, 0, len(a.t)+len(b.t))}
			x, y := 0, 0
			for x < len(a.t) && y < len(b.t) {
				if a.t[x] < b.t[y] || (a.t[x] == b.t[y] && a.obs[x]) {
					m.t, m.obs = append(m.t, a.t[x]), append(m.obs, a.obs[x])
					x++
				} else {
					m.t, m.obs = append(m.t, b.t[y]), append(m.obs, b.obs[y])
					y++
				}
			}
			m.t, m.obs = append(m.t, a.t[x:]...), append(m.obs, a.obs[x:]...)
			m.t, m.obs = append(m.t, b.t[y:]...), append(m.obs, b.obs[y:]...)
			next = append(next, m)
		}
		if len(rs)%2 == 1 {
			next = append(next, rs[len(rs)-1])
		}
		rs = next
	}
	if len(rs) == 0 {
		return nil, nil
	}
	return rs[0].t, rs[0].obs
}

// sortWithClusters sorts v by value (then cluster), keeping each value's
// cluster in c beside it.
func sortWithClusters(v []float64, c []int) {
	type vc struct {
		v float64
		c int
	}
	p := make([]vc, len(v))
	for i := range v {
		p[i] = vc{v[i], c[i]}
	}
	slices.SortFunc(p, func(a, b vc) int {
		if r := cmp.Compare(a.v, b.v); r != 0 {
			return r
		}
		return cmp.Compare(a.c, b.c)
	})
	for i, x := range p {
		v[i], c[i] = x.v, x.c
	}
}

func (c *computer) tickets(groups []ticketGroup) {
	for _, p := range byPeriod(len(groups), func(i int) month { return groups[i].Month }) {
		c.per = p.Period
		type acct struct{ afterSum, afterN, beforeSum, beforeN float64 }
		accounts := map[string]*acct{}
		var afterN, baseN [256]int
		var n, sec, nAfter, secAfter int
		for _, i := range p.Items {
			g := &groups[i]
			k := g.N
			n += k
			if g.Security {
				sec += k
			}
			if g.After {
				nAfter += k
				if g.Security {
					secAfter += k
				}
			}
			if !g.Rated {
				continue
			}
			v := float64(g.CSAT)
			if g.After {
				afterN[g.CSAT] += k
			} else if g.AffectedAcct {
				baseN[g.CSAT] += k
			}
			if g.AffectedAcct {
				a := accounts[g.Account]
				if a == nil {
					a = &acct{}
					accounts[g.Account] = a
				}
				if g.After {
					a.afterSum += v * float64(k)
					a.afterN += float64(k)
				} else {
					a.beforeSum += v * float64(k)
					a.beforeN += float64(k)
				}
			}
		}
		// Samples in score order: the sums of the t statistics are then
		// the same whatever order the groups came in.
		expand := func(counts *[256]int) []float64 {
			var out []float64
			for v, k := range counts {
				for range k {
					out = append(out, float64(v))
				}
			}
			return out
		}
		after, base := expand(&afterN), expand(&baseN)
		conf := c.conf
		// 12. CSAT after an incident vs the affected accounts' own
		// baseline: unpaired (tickets) and paired per account (the
		// account is the unit, so account clustering is built in).
		c.add("csat", "after_incident_30d", "1", "score", stats.Descriptive, stats.MeanT(after, conf), len(after))
		c.add("csat", "after_incident_30d", "0_affected_accounts", "score", stats.Descriptive, stats.MeanT(base, conf), len(base))
		w, pv := stats.WelchDiff(after, base, conf)
		row := c.add("csat_incident_drop", "all", "after_minus_own_baseline", "score", stats.QuasiExperiment, w, len(after), len(base))
		row.P = pv
		row.Note = "tickets as independent observations: see the paired figure, which compares each account with itself"
		var paired []float64
		for _, id := range slices.Sorted(maps.Keys(accounts)) {
			a := accounts[id]
			if a.afterN > 0 && a.beforeN > 0 {
				paired = append(paired, a.afterSum/a.afterN-a.beforeSum/a.beforeN)
			}
		}
		pe := stats.MeanT(paired, conf)
		pe.Method = "paired_account_mean_diff_t"
		pe.Clusters = len(paired)
		row = c.add("csat_incident_drop", "paired", "account", "score", stats.QuasiExperiment, pe, len(paired))
		row.clustered("account", pe, stats.Estimate{Low: w.Low, High: w.High}, conf)
		row.Note = "mean over affected accounts of (mean CSAT of tickets within 30 days after an incident - mean of the account's other tickets); naive interval: tickets as independent (Welch)"
		// 13. Security-related tickets.
		c.total("security_ticket_volume", "all", "pooled", "count", n, float64(sec))
		c.add("security_ticket_share", "after_incident_30d", "1", "ratio", stats.Descriptive, stats.Wilson(secAfter, nAfter, conf), nAfter)
		c.add("security_ticket_share", "after_incident_30d", "0", "ratio", stats.Descriptive, stats.Wilson(sec-secAfter, n-nAfter, conf), n-nAfter)
	}
}

func (c *computer) findings(groups []findingGroup) {
	conf := c.conf
	// 6. SLA compliance by due-date cohort (findings.sla_cohort_month).
	for _, p := range byPeriod(len(groups), func(i int) month {
		if groups[i].Within == 2 {
			return 0
		}
		return groups[i].Cohort
	}) {
		c.per = p.Period
		type sla struct{ within, n int }
		all := &sla{}
		byDept, byTeam := map[string]*sla{}, map[string]*sla{}
		for _, i := range p.Items {
			g := &groups[i]
			for _, k := range []struct {
				m map[string]*sla
				k string
			}{{byDept, g.Department}, {byTeam, g.Team}} {
				if k.m[k.k] == nil {
					k.m[k.k] = &sla{}
				}
			}
			for _, s := range []*sla{all, byDept[g.Department], byTeam[g.Team]} {
				s.n += g.N
				s.within += int(g.Within) * g.N
			}
		}
		c.add("sla_compliance", "all", "pooled", "ratio", stats.Descriptive, stats.Wilson(all.within, all.n, conf), all.n)
		for _, kv := range []struct {
			dim string
			m   map[string]*sla
		}{{"department", byDept}, {"team", byTeam}} {
			for _, k := range slices.Sorted(maps.Keys(kv.m)) {
				g := kv.m[k]
				c.add("sla_compliance", kv.dim, k, "ratio", stats.Descriptive, stats.Wilson(g.within, g.n, conf), g.n)
			}
		}
	}
	// 5. Remediation time by detection period: Kaplan-Meier median and
	// p90 with open (and dismissed) findings censored, so slow teams are
	// not flattered by dropping what they have not fixed.
	//
	// Each group's times sorted once: a breakdown's times are then merged
	// from its groups' sorted runs (a group's findings share a status, so
	// each run is all events or all censorings) instead of sorted anew for
	// every breakdown and period a finding is in (eleven), and
	// Kaplan-Meier's own sort finds them sorted.
	sortedDays := make([][]float64, len(groups))
	for i := range groups {
		sortedDays[i] = slices.Clone(groups[i].Days)
		slices.Sort(sortedDays[i])
	}
	for _, p := range byPeriod(len(groups), func(i int) month { return groups[i].Detected }) {
		c.per = p.Period
		type ttf struct {
			runs    []timeRun
			n, open int
		}
		// Per month, quarter and year only the breakdowns the department
		// dashboard reads get survival curves (sorting is the refresh's
		// largest cost); every one keeps its counts.
		curves := func(d string) bool {
			return p.Grain == GrainAll || d == "department_severity" || d == "team_severity"
		}
		dims := []string{"severity", "team", "department", "department_severity", "team_severity"}
		m := map[string]map[string]*ttf{}
		for _, d := range dims {
			m[d] = map[string]*ttf{}
		}
		var opened, fixed, debt int
		for _, i := range p.Items {
			g := &groups[i]
			for _, dv := range [][2]string{{"severity", g.Severity}, {"team", g.Team}, {"department", g.Department},
				{"department_severity", g.Department + "/" + g.Severity}, {"team_severity", g.Team + "/" + g.Severity}} {
				t := m[dv[0]][dv[1]]
				if t == nil {
					t = &ttf{}
					m[dv[0]][dv[1]] = t
				}
				t.n += len(g.Days)
				if curves(dv[0]) && len(g.Days) > 0 {
					t.runs = append(t.runs, timeRun{t: sortedDays[i], obs: g.Status == "fixed"})
				}
				if g.Status == "open" {
					t.open += g.N
				}
			}
			opened += g.N
			if g.Status == "fixed" {
				fixed += g.N
			}
			if g.Debt {
				debt += g.N
			}
		}
		for _, d := range dims {
			for _, k := range slices.Sorted(maps.Keys(m[d])) {
				g := m[d][k]
				if !curves(d) {
					c.total("findings_open", d, k, "count", g.n, float64(g.open))
					continue
				}
				times, obs := mergeRuns(g.runs)
				qs := stats.KaplanMeierQuantiles(times, obs, 0.5, 0.9)
				for i, name := range []string{"mttr_days_median", "mttr_days_p90"} {
					c.add(name, d, k, "days", stats.Descriptive, stats.Estimate{N: len(times), Value: qs[i],
						Low: math.NaN(), High: math.NaN(), Method: "kaplan_meier"}, len(times)).Note = "open and dismissed findings censored"
				}
				c.total("findings_open", d, k, "count", g.n, float64(g.open))
			}
		}
		if p.Grain == GrainAll {
			// 7. Security debt (as of the refresh); 8. fix capacity.
			c.total("security_debt", "all", "pooled", "count", opened, float64(debt))
			fc := c.total("fix_capacity", "all", "pooled", "ratio", opened, math.NaN())
			fc.Method = "ratio"
			if opened > 0 {
				fc.Estimate = float64(fixed) / float64(opened)
			}
		}
	}
}

// Unassigned is the department an incident is charged to when its review
// named no contributing department.
const Unassigned = "(unassigned)"

func (c *computer) departments(in *statsInput) {
	conf := c.conf
	// 15. Cost of risk per department over all data, as the scorecard
	// sums it (incident cost + control spend), kept for the analyst
	// contract; the surfaces show its two parts apart.
	if len(in.CostOfRisk) > 0 {
		c.per = allPeriod(in)
		for _, r := range in.CostOfRisk {
			c.total("cost_of_risk_usd", "department", r.Department, "usd", r.Incidents, r.USD).Note = "incident cost + control spend (vendor assessments and monitoring); shown apart as incident_cost_usd and control_spend_usd"
		}
	}
	// Incident cost per detection period: n counts incidents; the cost of
	// an incident is split evenly over its contributing departments, and
	// one naming none is charged to Unassigned; incidents whose cost is
	// not known yet are counted, not valued at 0 silently.
	inc := in.Incidents
	for _, p := range byPeriod(len(inc), func(i int) month { return inc[i].Month }) {
		c.per = p.Period
		type agg struct {
			usd        float64
			n, unknown int
		}
		all := &agg{}
		byDept := map[string]*agg{}
		for _, i := range p.Items {
			x := &inc[i]
			depts := x.Departments
			if len(depts) == 0 {
				depts = []string{Unassigned}
			}
			all.n++
			if x.Cost == nil {
				all.unknown++
			} else {
				all.usd += *x.Cost
			}
			for _, d := range depts {
				a := byDept[d]
				if a == nil {
					a = &agg{}
					byDept[d] = a
				}
				a.n++
				if x.Cost == nil {
					a.unknown++
				} else {
					a.usd += *x.Cost / float64(len(depts))
				}
			}
		}
		note := func(a *agg) string {
			if a.unknown == 0 {
				return "every incident's cost is known"
			}
			return fmt.Sprintf("%d of %d incidents have no cost yet: the figure is a lower bound", a.unknown, a.n)
		}
		c.total("incident_cost_usd", "all", "total", "usd", all.n, all.usd).Note = note(all)
		c.total("incidents_cost_unknown", "all", "total", "count", all.n, float64(all.unknown))
		for _, d := range slices.Sorted(maps.Keys(byDept)) {
			a := byDept[d]
			c.total("incident_cost_usd", "department", d, "usd", a.n, a.usd).Note = note(a)
			c.total("incidents_cost_unknown", "department", d, "count", a.n, float64(a.unknown))
		}
	}
	// Control spend: vendor assessment and monitoring cost of the tools a
	// department asked for, by request period.
	vs := in.Vendors
	for _, p := range byPeriod(len(vs), func(i int) month { return vs[i].Month }) {
		c.per = p.Period
		var allUSD float64
		byDept := map[string]float64{}
		nDept := map[string]int{}
		for _, i := range p.Items {
			v := &vs[i]
			allUSD += v.Assessment + v.Monitoring
			byDept[v.Department] += v.Assessment + v.Monitoring
			nDept[v.Department]++
		}
		c.total("control_spend_usd", "all", "total", "usd", len(p.Items), allUSD).Note = "vendor assessment cost + annual monitoring cost of the tools requested"
		for _, d := range slices.Sorted(maps.Keys(nDept)) {
			c.total("control_spend_usd", "department", d, "usd", nDept[d], byDept[d])
		}
		if p.Grain != GrainAll {
			continue
		}
		// 14. Vendor assessment cost and cycle time per department.
		vcost := map[string]float64{}
		vcycle := map[string][]float64{}
		for _, i := range p.Items {
			v := &vs[i]
			vcost[v.Department] += v.Assessment
			if v.Cycle != nil {
				vcycle[v.Department] = append(vcycle[v.Department], *v.Cycle)
			}
		}
		for _, d := range slices.Sorted(maps.Keys(nDept)) {
			c.total("vendor_assessment_cost_usd", "department", d, "usd", nDept[d], vcost[d])
			c.add("vendor_assessment_cycle_days", "department", d, "days", stats.Descriptive, stats.MedianCI(vcycle[d], conf), len(vcycle[d]))
		}
	}
	// 16. Open policy exceptions per department and how long they stay
	// open (Kaplan-Meier median, open ones censored at the as-of time).
	if len(in.Exceptions) > 0 {
		c.per = allPeriod(in)
		type pe struct {
			open int
			t    []float64
			obs  []bool
		}
		pes := map[string]*pe{}
		for _, e := range in.Exceptions {
			g := pes[e.Department]
			if g == nil {
				g = &pe{}
				pes[e.Department] = g
			}
			if !e.Resolved {
				g.open++
			}
			g.t = append(g.t, e.Days)
			g.obs = append(g.obs, e.Resolved)
		}
		for _, d := range slices.Sorted(maps.Keys(pes)) {
			g := pes[d]
			c.total("policy_exceptions_open", "department", d, "count", len(g.t), float64(g.open))
			c.add("policy_exception_open_days_median", "department", d, "days", stats.Descriptive,
				stats.Estimate{N: len(g.t), Value: stats.KaplanMeierQuantile(g.t, g.obs, 0.5), Low: math.NaN(), High: math.NaN(), Method: "kaplan_meier"}, len(g.t))
		}
	}
}

// allPeriod is the "all" period for figures without months of their own
// (totals over the scorecard, exceptions): the span of the deals,
// deployments, tickets and findings.
func allPeriod(in *statsInput) Period {
	var lo, hi month
	see := func(m month) {
		if m == 0 {
			return
		}
		if lo == 0 || m < lo {
			lo = m
		}
		if m > hi {
			hi = m
		}
	}
	for _, d := range in.Deals {
		see(d.Month)
	}
	for _, d := range in.Deployments {
		see(d.Month)
	}
	for _, t := range in.Tickets {
		see(t.Month)
	}
	for _, f := range in.Findings {
		see(f.Detected)
	}
	for _, i := range in.Incidents {
		see(i.Month)
	}
	if lo == 0 {
		return Period{Name: "all", Grain: GrainAll}
	}
	return Period{Name: "all", Grain: GrainAll, Start: lo.start(), End: hi.start().AddDate(0, 1, 0)}
}
