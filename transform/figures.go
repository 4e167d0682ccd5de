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
	out, _ := runFamilies(context.Background(), in, o, nil, func(context.Context, []statsPart) error { return nil })
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
	{[]statsPart{partDeployments}, func(c *computer, in *statsInput) { c.deployments(in.Deployments) }},
	// Apart from the deployments' figures, which need not wait for
	// dora_changes, the table a refresh builds last (its rows follow
	// theirs all the same).
	{[]statsPart{partSecurityFix}, func(c *computer, in *statsInput) { c.securityFix(in.SecurityFix) }},
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
// their rows in the fixed family order. With a memo (Options.Cache) the
// families reuse the rows of periods whose input did not change.
func runFamilies(ctx context.Context, in *statsInput, o StatsOptions, memo *figureMemo, loaded func(context.Context, []statsPart) error) ([]Stat, error) {
	outs := make([][]Stat, len(statsFamilies))
	errs := make([]error, len(statsFamilies))
	var wg sync.WaitGroup
	for i, f := range statsFamilies {
		wg.Go(func() {
			if errs[i] = loaded(ctx, f.needs); errs[i] != nil {
				return
			}
			c := newComputer(o)
			c.memo = memo
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
	per  Period      // the period rows are added for
	memo *figureMemo // rows of unchanged periods (nil: none)
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

// keyIndex numbers the distinct keys of a family's items in sorted order,
// once per refresh: tallies per key are then slices indexed by number
// instead of maps keyed by strings (a deal is in four periods, a finding
// in up to twenty breakdowns), and walking the numbers in order walks the
// keys sorted, the order rows are written in. As cluster numbers they
// make the sums over clusters independent of row order.
type keyIndex struct {
	names []string // the distinct keys, sorted
	of    []int32  // of[i]: the number of item i's key
}

func indexKeys(n int, key func(i int) string) keyIndex {
	num := map[string]int32{}
	of := make([]int32, n)
	for i := range n {
		k := key(i)
		x, ok := num[k]
		if !ok {
			x = int32(len(num))
			num[k] = x
		}
		of[i] = x
	}
	names := slices.Sorted(maps.Keys(num))
	rank := make([]int32, len(names))
	for r, k := range names {
		rank[num[k]] = int32(r)
	}
	for i, x := range of {
		of[i] = rank[x]
	}
	return keyIndex{names: names, of: of}
}

// grainIndex returns, for each of n items, the index in ps of the period
// of the given grain holding it (-1: none).
func grainIndex(ps []periodItems, grain string, n int) []int32 {
	at := make([]int32, n)
	for i := range at {
		at[i] = -1
	}
	for pi, p := range ps {
		if p.Grain == grain {
			for _, i := range p.Items {
				at[i] = int32(pi)
			}
		}
	}
	return at
}

// scatter copies items into slots (slot returns -1 to leave an item out),
// each slot's items contiguous and in their order in items: a stable
// counting sort by slot, in linear time. Items sorted once by value thus
// give every breakdown of every period its values sorted, instead of a
// sort per breakdown and period (each value is in four periods and
// several breakdowns). Slot s is out[off[s]:off[s+1]]; out reuses buf.
func scatter[T any](items []T, nSlots int, slot func(T) int, buf []T) (out []T, off []int) {
	off = make([]int, nSlots+1)
	for _, it := range items {
		if s := slot(it); s >= 0 {
			off[s+1]++
		}
	}
	for s := range nSlots {
		off[s+1] += off[s]
	}
	out = slices.Grow(buf[:0], off[nSlots])[:off[nSlots]]
	next := slices.Clone(off[:nSlots])
	for _, it := range items {
		if s := slot(it); s >= 0 {
			out[next[s]] = it
			next[s]++
		}
	}
	return out, off
}

// sortedPerPeriod returns the values of each period of ps, by key, sorted:
// out[pi*nKeys+key] for period pi (nil when none). value gives item i's
// value and key (ok false: the item has none). The values are sorted once
// and scattered per grain, instead of sorted again in each of the four
// periods an item is in. Only the periods need reports get their values
// (the others are nil: the family took their rows from the memo).
func sortedPerPeriod(ps []periodItems, n, nKeys int, need func(pi int) bool, value func(i int) (v float64, key int, ok bool)) [][]float64 {
	type item struct {
		v      float64
		i, key int32
	}
	items := make([]item, 0, n)
	for i := range n {
		if v, key, ok := value(i); ok {
			items = append(items, item{v, int32(i), int32(key)})
		}
	}
	stats.SortByValue(items, func(x item) float64 { return x.v })
	out := make([][]float64, len(ps)*nKeys)
	var buf []item
	needed := make([]bool, len(ps))
	grains := map[string]bool{}
	for pi, p := range ps {
		if needed[pi] = need(pi); needed[pi] {
			grains[p.Grain] = true
		}
	}
	for _, grain := range []string{GrainAll, GrainYear, GrainQuarter, GrainMonth} {
		if !grains[grain] {
			continue
		}
		at := grainIndex(ps, grain, n)
		for i, pi := range at {
			if pi >= 0 && !needed[pi] {
				at[i] = -1
			}
		}
		var off []int
		buf, off = scatter(items, len(out), func(x item) int {
			if at[x.i] < 0 {
				return -1
			}
			return int(at[x.i])*nKeys + int(x.key)
		}, buf)
		vals := make([]float64, len(buf))
		for j, x := range buf {
			vals[j] = x.v
		}
		for s := range out {
			if off[s] < off[s+1] {
				out[s] = vals[off[s]:off[s+1]:off[s+1]]
			}
		}
	}
	return out
}

func (c *computer) deals(deals []dealRow) {
	// Each deal's account, bucket and segment numbered once (-1: a bucket
	// or segment no figure breaks down by), not looked up per period.
	acct := indexKeys(len(deals), func(i int) string { return deals[i].Account })
	bucketOf, segOf := make([]int8, len(deals)), make([]int8, len(deals))
	for i := range deals {
		bucketOf[i] = int8(slices.Index(buckets, deals[i].Bucket))
		segOf[i] = int8(slices.Index(segments, deals[i].Segment))
	}
	nb := len(buckets)
	fast, slow := slices.Index(buckets, "fast"), slices.Index(buckets, "slow")
	// A completed review's turnaround (and its share of the cycle).
	reviewed := func(d *dealRow) bool {
		return d.HasTurnaround && d.ReviewBucket != "none" && d.ReviewBucket != "incomplete"
	}
	periods := byPeriod(len(deals), func(i int) month { return deals[i].Month })
	// With a memo, each deal's fingerprint (what the period's figures read
	// of it: its account, bucket and segment, whether its review is
	// complete and whether it was lost to security, and its values) is
	// taken once; a period's is that of its deals in order.
	var sums []uint64
	salt := ""
	if c.memo != nil {
		salt = "deals|" + c.optionsSalt()
		sums = make([]uint64, len(deals))
		acctSum := c.memo.nameSums(acct.names)
		x := newItemHasher(c.memo)
		for i := range deals {
			d := &deals[i]
			x.reset()
			x.u64(acctSum[acct.of[i]])
			x.u64(uint64(uint8(bucketOf[i])) | uint64(uint8(segOf[i]))<<8)
			x.flag(d.Won)
			x.flag(reviewed(d))
			x.flag(d.Outcome == "lost" && d.Loss == "security")
			x.f64(d.Turnaround)
			x.f64(d.Cycle)
			x.f64(d.Amount)
			sums[i] = x.sum()
		}
	}
	rs, need := c.recall("deals", periods, func(p periodItems) uint64 { return c.memo.periodSum(salt, p.Items, sums) })
	// The medians' samples sorted per period (sortedPerPeriod), of the periods
	// the memo does not hold.
	cycles := sortedPerPeriod(periods, len(deals), nb, need, func(i int) (float64, int, bool) {
		return deals[i].Cycle, int(bucketOf[i]), bucketOf[i] >= 0
	})
	turns := sortedPerPeriod(periods, len(deals), 1, need, func(i int) (float64, int, bool) {
		d := &deals[i]
		if !reviewed(d) {
			return 0, 0, false
		}
		return d.Turnaround, 0, true
	})
	shares := sortedPerPeriod(periods, len(deals), 1, need, func(i int) (float64, int, bool) {
		d := &deals[i]
		if !reviewed(d) || !(d.Cycle > 0) {
			return 0, 0, false
		}
		return d.Turnaround / d.Cycle, 0, true
	})
	// The per-period samples reuse one buffer each: a period's are done
	// with before the next period's are gathered (every deal is in four
	// periods; fresh slices were half of the family's allocations).
	var turn, wonF []float64 // in deal order: Spearman and Pearson pair them
	var obs, segObs, stratBuf []stats.Obs
	for pi, p := range periods {
		c.per = p.Period
		if c.reuse(rs[pi]) {
			continue
		}
		start := len(c.out)
		turn, wonF, obs = turn[:0], wonF[:0], obs[:0]
		type wn struct{ won, n int }
		byB := make([]wn, nb)
		bySB := make([]wn, len(segments)*nb) // segment si, bucket b: si*nb+b
		var lostSec float64
		var nLostSec int
		lostSecSeg, slowUSD := make([]float64, len(segments)), make([]float64, len(segments))
		nLostSecSeg, slowN := make([]int, len(segments)), make([]int, len(segments))
		for _, i := range p.Items {
			d := &deals[i]
			won := 0
			if d.Won {
				won = 1
			}
			b, si := int(bucketOf[i]), int(segOf[i])
			if b >= 0 {
				byB[b].n++
				byB[b].won += won
				if si >= 0 {
					bySB[si*nb+b].n++
					bySB[si*nb+b].won += won
				}
			}
			if d.Outcome == "lost" && d.Loss == "security" {
				lostSec += d.Amount
				nLostSec++
				if si >= 0 {
					lostSecSeg[si] += d.Amount
					nLostSecSeg[si]++
				}
			}
			if reviewed(d) {
				turn = append(turn, d.Turnaround)
				wonF = append(wonF, float64(won))
			}
			if si >= 0 && (b == fast || b == slow) {
				obs = append(obs, stats.Obs{Y: float64(won), X: b == fast, Stratum: si, Cluster: int(acct.of[i])})
				if b == slow {
					slowUSD[si] += d.Amount
					slowN[si]++
				}
			}
		}
		r, conf := c.r, c.conf
		// 1. Win rate by landmark bucket; fast minus slow pooled, per
		// segment (BH across segments) and stratified by segment.
		for bi, b := range buckets {
			g := byB[bi]
			c.add("win_rate", "review_bucket", b, "ratio", stats.Descriptive, stats.Wilson(g.won, g.n, conf), g.n)
			for si, s := range segments {
				g := bySB[si*nb+bi]
				c.add("win_rate", "segment_review_bucket", s+"/"+b, "ratio", stats.Descriptive, stats.Wilson(g.won, g.n, conf), g.n)
			}
		}
		f, s := byB[fast], byB[slow]
		pooled := stats.ClusterDiff(obs, conf)
		naive := stats.NewcombeDiff(f.won, f.n, s.won, s.n, conf)
		pooled.N = f.n + s.n
		row := c.add("win_rate_diff_fast_minus_slow", "all", "pooled", "ratio", stats.Descriptive, pooled, f.n, s.n)
		row.clustered("account", pooled, naive, conf)
		row.P = stats.TwoProportionP(f.won, f.n, s.won, s.n)
		row.Note = "confounded by segment: quote the stratified figure"
		var segRows []int // indices in c.out: a later add may move the rows
		var ps []float64
		var strata, used []stats.Stratum
		var usedNames, leftOut []string
		var usedEst, usedVar []float64
		for si, seg := range segments {
			fs, ss := bySB[si*nb+fast], bySB[si*nb+slow]
			st := stats.Stratum{X1: fs.won, N1: fs.n, X0: ss.won, N0: ss.n}
			strata = append(strata, st)
			segObs = segObs[:0]
			for _, o := range obs {
				if o.Stratum == si {
					segObs = append(segObs, o)
				}
			}
			e := stats.ClusterDiff(segObs, conf)
			row := c.add("win_rate_diff_fast_minus_slow", "segment", seg, "ratio", stats.Descriptive, e, fs.n, ss.n)
			row.clustered("account", e, stats.NewcombeDiff(fs.won, fs.n, ss.won, ss.n, conf), conf)
			row.P = stats.TwoProportionP(fs.won, fs.n, ss.won, ss.n)
			segRows = append(segRows, len(c.out)-1)
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
			c.out[segRows[i]].PAdjusted = q
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
			stratBuf = stratBuf[:0]
			for _, o := range obs {
				if inUsed[o.Stratum] {
					stratBuf = append(stratBuf, o)
				}
			}
			stratObs, mhStrata = stratBuf, used
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
		for si, seg := range segments {
			c.total("revenue_lost_security_usd", "segment", seg, "usd", nLostSecSeg[si], lostSecSeg[si])
		}
		var pipe float64
		var nSlow int
		for _, seg := range orAll(usedNames) {
			si := slices.Index(segments, seg)
			pipe += slowUSD[si]
			nSlow += slowN[si]
		}
		rev := stats.Estimate{N: nSlow, Value: adj.Value * pipe, Low: adj.Low * pipe, High: adj.High * pipe,
			Method: "stratified_rd_x_slow_pipeline", SE: adj.SE * pipe, DF: adj.DF, Clusters: adj.Clusters}
		row = c.add("revenue_associated_slow_reviews_usd", "stratified", "segment", "usd", stats.Adjusted, rev, nf, ns)
		row.clustered("account", rev, stats.Estimate{Low: mh.Low * pipe, High: mh.High * pipe}, conf)
		row.Note = fmt.Sprintf("adjusted fast-minus-slow win-rate difference x %.0f USD of slow-review deals (%d deals) in %s: what slow-review deals would have won at the fast-review rate, if the association held", pipe, nSlow, strings.Join(orAll(usedNames), ", "))
		// 3. Review turnaround (completed reviews) and its share of the
		// cycle; Spearman and Pearson of turnaround with winning.
		share := shares[pi]
		c.add("review_turnaround_days", "all", "median", "days", stats.Descriptive, stats.MedianCI(turns[pi], conf), len(turn))
		c.add("review_share_of_cycle", "all", "median", "ratio", stats.Descriptive, stats.MedianCI(share, conf), len(share))
		c.add("review_turnaround_vs_won", "all", "spearman", "rho", stats.Descriptive, stats.Spearman(turn, wonF, conf), len(turn))
		c.add("review_turnaround_vs_won", "all", "pearson", "r", stats.Descriptive, stats.Pearson(turn, wonF, conf), len(turn))
		// 4. Deal cycle by bucket.
		for bi, b := range buckets {
			c.add("deal_cycle_days", "review_bucket", b, "days", stats.Descriptive, stats.MedianCI(cycles[pi*nb+bi], conf), len(cycles[pi*nb+bi]))
		}
		c.keep(rs[pi], start)
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
	var lo, hi month
	for _, d := range deals {
		if lo == 0 || d.Month < lo {
			lo = d.Month
		}
		if d.Month > hi {
			hi = d.Month
		}
	}
	acct := indexKeys(len(deals), func(i int) string { return deals[i].Account })
	c.per = Period{Name: "all", Grain: GrainAll, Start: lo.start(), End: hi.start().AddDate(0, 1, 0)}
	for _, ch := range c.o.Changes {
		cm := month(ch.Date.UTC().Year()*100 + int(ch.Date.UTC().Month()))
		// did compares the deals before a month, or all (before 0), split
		// at split.
		did := func(before, split month) (stats.Estimate, [4]int) {
			var obs []stats.DiDObs
			var n [4]int
			for i := range deals {
				d := &deals[i]
				if before != 0 && d.Month >= before {
					continue
				}
				y := 0.0
				if d.Won {
					y = 1
				}
				o := stats.DiDObs{Y: y, Treated: d.ReviewRequired, After: d.Month >= split, Cluster: int(acct.of[i])}
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
		e, n := did(0, cm)
		row := c.add("win_rate_did", "change", ch.Name, "ratio", stats.QuasiExperiment, e, n[0], n[1], n[2], n[3])
		row.Cluster, row.Clusters = "account", e.Clusters
		row.MDE = stats.MinimumDetectableEffect(e.SE, e.DF, c.conf, stats.DefaultPower)
		row.P = stats.TwoSidedP(e)
		row.Note = fmt.Sprintf("change %s from %s (counted from the start of that month): win rate of deals that required a security review minus deals that did not, after minus before; assumes parallel trends (without the change both would have moved alike): see win_rate_did_placebo", ch.Name, ch.Date.UTC().Format(time.DateOnly))
		// Placebo: the months before the change split at their midpoint.
		seen := map[month]bool{}
		var months []month
		for _, d := range deals {
			if d.Month < cm {
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
		pe, pn := did(cm, mid)
		prow := c.add("win_rate_did_placebo", "change", ch.Name, "ratio", stats.QuasiExperiment, pe, pn[0], pn[1], pn[2], pn[3])
		prow.Cluster, prow.Clusters = "account", pe.Clusters
		prow.P = stats.TwoSidedP(pe)
		prow.Note = fmt.Sprintf("the same comparison on the deals before the change, split at %s: an interval far from 0 says the groups did not move in parallel, and the difference-in-differences is not to be trusted", mid.start().Format(time.DateOnly))
	}
}

func (c *computer) deployments(groups []deployGroup) {
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
	n := len(groups)
	svc := indexKeys(n, func(i int) string { return groups[i].Service })
	dept := indexKeys(n, func(i int) string { return groups[i].Department })
	team := indexKeys(n, func(i int) string { return groups[i].Team })
	envs := indexKeys(n, func(i int) string { return groups[i].Environment })
	// The lead times of successful deployments, sorted once by value and
	// service, the order every procedure below sorts them in: scattered
	// per grain into their period, environment and gate outcome (slot),
	// each breakdown's come out sorted, instead of being sorted again in
	// each of the four periods a deployment is in.
	type lead struct {
		v   float64
		svc int32
		g   int32
	}
	var nLeads, nSuccess int
	for _, g := range groups {
		nLeads += len(g.Lead)
		if g.Status == "success" {
			nSuccess += len(g.Lead)
		}
	}
	// In service order, so the stable sort by value orders equal values
	// by service.
	bySvc := make([]int, n)
	for i := range bySvc {
		bySvc[i] = i
	}
	slices.SortStableFunc(bySvc, func(a, b int) int { return cmp.Compare(svc.of[a], svc.of[b]) })
	leads := make([]lead, 0, nSuccess)
	for _, i := range bySvc {
		if g := &groups[i]; g.Status == "success" {
			for _, v := range g.Lead {
				leads = append(leads, lead{v, svc.of[i], int32(i)})
			}
		}
	}
	stats.SortByValue(leads, func(l lead) float64 { return l.v })
	nEnv := len(envs.names)
	slot := func(pi, e int, blocked bool) int {
		s := (pi*nEnv + e) * 2
		if blocked {
			s++
		}
		return s
	}
	var sorted []lead
	var off []int
	var x, y []float64
	var cx, cy []int
	// One replicate count for every period, sized by all the data: each
	// deployment is in four periods (month, quarter, year, all), so a
	// refresh resamples about 4 x resamples(n) x n values at most.
	boot := resamples(c.o.Resamples, nLeads)
	periods := byPeriod(n, func(i int) month { return groups[i].Month })
	// With a memo, each group's fingerprint (what the period's figures
	// read of it) is taken once; a period's is that of its groups in any
	// order, with the inputs every period shares.
	var sums []uint64
	salt := ""
	if c.memo != nil {
		salt = fmt.Sprintf("deployments|%s|%q|%d", c.optionsSalt(), headEnv, boot)
		sums = make([]uint64, n)
		svcSum, deptSum, teamSum, envSum := c.memo.nameSums(svc.names), c.memo.nameSums(dept.names), c.memo.nameSums(team.names), c.memo.nameSums(envs.names)
		x := newItemHasher(c.memo)
		for i := range groups {
			g := &groups[i]
			x.reset()
			x.u64(svcSum[svc.of[i]])
			x.u64(deptSum[dept.of[i]])
			x.u64(teamSum[team.of[i]])
			x.u64(envSum[envs.of[i]])
			x.flag(g.Blocked)
			x.flag(g.Waived)
			x.u64(uint64(g.N))
			if g.Status == "success" { // only successful deployments' lead times count
				x.u64(uint64(len(g.Lead)))
				for _, v := range g.Lead {
					x.f64(v)
				}
			}
			sums[i] = x.sum()
		}
	}
	rs, _ := c.recall("deployments", periods, func(p periodItems) uint64 { return c.memo.periodSetSum(salt, p.Items, sums) })
	scattered := ""
	for pi, p := range periods {
		c.per = p.Period
		if c.reuse(rs[pi]) {
			continue
		}
		start := len(c.out)
		if p.Grain != scattered {
			// byPeriod lists the periods grain by grain; a grain whose
			// every period the memo holds is never scattered.
			at := grainIndex(periods, p.Grain, n)
			slotOf := make([]int32, n)
			for i, pi := range at {
				slotOf[i] = -1
				if pi >= 0 {
					slotOf[i] = int32(slot(int(pi), int(envs.of[i]), groups[i].Blocked))
				}
			}
			sorted, off = scatter(leads, len(periods)*nEnv*2, func(l lead) int { return int(slotOf[l.g]) }, sorted)
			scattered = p.Grain
		}
		type cnt struct {
			blocked, waived, n int
			seen               bool
		}
		byDept, byTeam := make([]cnt, len(dept.names)), make([]cnt, len(team.names))
		var all cnt
		for _, i := range p.Items {
			g := &groups[i]
			for _, ct := range [...]*cnt{&byDept[dept.of[i]], &byTeam[team.of[i]], &all} {
				ct.seen = true
				ct.n += g.N
				if g.Blocked {
					ct.blocked += g.N
				}
				if g.Waived {
					ct.waived += g.N
				}
			}
		}
		conf := c.conf
		// 9. Gate block rate and the share of blocking outcomes waived.
		c.add("gate_block_rate", "all", "pooled", "ratio", stats.Descriptive, stats.Wilson(all.blocked, all.n, conf), all.n)
		c.add("gate_waived_share", "all", "pooled", "ratio", stats.Descriptive, stats.Wilson(all.waived, all.blocked+all.waived, conf), all.blocked+all.waived)
		for d, g := range byDept {
			if g.seen {
				c.add("gate_block_rate", "department", dept.names[d], "ratio", stats.Descriptive, stats.Wilson(g.blocked, g.n, conf), g.n)
			}
		}
		for t, g := range byTeam {
			if g.seen {
				c.add("gate_block_rate", "team", team.names[t], "ratio", stats.Descriptive, stats.Wilson(g.blocked, g.n, conf), g.n)
			}
		}
		// 10. Lead time blocked vs unblocked, like with like: successful
		// deployments of one environment; the delay's interval resamples
		// services (cluster bootstrap), the naive one deployments.
		for ei, env := range envs.names {
			// Every procedure below sorts its input (the figures do not
			// depend on the order); found sorted, their sorts take
			// linear time.
			bl, un := sorted[off[slot(pi, ei, true)]:off[slot(pi, ei, true)+1]], sorted[off[slot(pi, ei, false)]:off[slot(pi, ei, false)+1]]
			if len(bl)+len(un) == 0 {
				continue
			}
			x, cx = x[:0], cx[:0]
			for _, l := range bl {
				x, cx = append(x, l.v), append(cx, int(l.svc))
			}
			y, cy = y[:0], cy[:0]
			for _, l := range un {
				y, cy = append(y, l.v), append(cy, int(l.svc))
			}
			if env == headEnv {
				c.add("deploy_lead_time_hours", "gate_blocked", "1", "hours", stats.Descriptive, stats.MedianCI(x, conf), len(x)).Note = "successful deployments to " + env
				c.add("deploy_lead_time_hours", "gate_blocked", "0", "hours", stats.Descriptive, stats.MedianCI(y, conf), len(y)).Note = "successful deployments to " + env
			}
			e := stats.ClusterBootstrapMedianDiff(x, cx, y, cy, boot, conf, c.o.Seed)
			// The independence interval beside it: McKean and Schrader's
			// normal interval, no resampling (it is only the comparison).
			naive := stats.MedianDiffMcKeanSchrader(x, y, conf)
			_, pv := stats.MannWhitney(x, y)
			dims := [][2]string{{"environment", env}}
			if env == headEnv {
				dims = append([][2]string{{"all", "blocked_minus_unblocked"}}, dims...)
			}
			for _, dv := range dims {
				row := c.add("gate_delay_hours", dv[0], dv[1], "hours", stats.Descriptive, e, len(x), len(y))
				row.clustered("service", e, naive, conf)
				row.P = pv
				row.Note = "successful deployments to " + env + ", gate-blocked minus not blocked"
			}
		}
		c.keep(rs[pi], start)
	}
}

// securityFix adds the security-fix lead time, by the month the fix
// shipped (the deployments' figure 11).
func (c *computer) securityFix(fixes []fixLead) {
	fp := byPeriod(len(fixes), func(i int) month { return fixes[i].Month })
	hours := sortedPerPeriod(fp, len(fixes), 1, func(int) bool { return true }, func(i int) (float64, int, bool) { return fixes[i].Hours, 0, true })
	for pi, p := range fp {
		c.per = p.Period
		h := hours[pi]
		c.add("security_fix_lead_time_hours", "all", "median", "hours", stats.Descriptive, stats.MedianCI(h, c.conf), len(h))
	}
}

func (c *computer) tickets(groups []ticketGroup) {
	acctOf := indexKeys(len(groups), func(i int) string { return groups[i].Account })
	type acct struct{ afterSum, afterN, beforeSum, beforeN float64 }
	accounts := make([]acct, len(acctOf.names))
	for _, p := range byPeriod(len(groups), func(i int) month { return groups[i].Month }) {
		c.per = p.Period
		clear(accounts)
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
				a := &accounts[acctOf.of[i]]
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
		for _, a := range accounts { // in account order
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
	n := len(groups)
	dept := indexKeys(n, func(i int) string { return groups[i].Department })
	team := indexKeys(n, func(i int) string { return groups[i].Team })
	// 6. SLA compliance by due-date cohort (findings.sla_cohort_month).
	type sla struct {
		within, n int
		seen      bool
	}
	for _, p := range byPeriod(n, func(i int) month {
		if groups[i].Within == 2 {
			return 0
		}
		return groups[i].Cohort
	}) {
		c.per = p.Period
		var all sla
		byDept, byTeam := make([]sla, len(dept.names)), make([]sla, len(team.names))
		for _, i := range p.Items {
			g := &groups[i]
			for _, s := range [...]*sla{&all, &byDept[dept.of[i]], &byTeam[team.of[i]]} {
				s.seen = true
				s.n += g.N
				s.within += int(g.Within) * g.N
			}
		}
		c.add("sla_compliance", "all", "pooled", "ratio", stats.Descriptive, stats.Wilson(all.within, all.n, conf), all.n)
		for _, kv := range []struct {
			dim  string
			keys keyIndex
			t    []sla
		}{{"department", dept, byDept}, {"team", team, byTeam}} {
			for k, g := range kv.t {
				if g.seen {
					c.add("sla_compliance", kv.dim, kv.keys.names[k], "ratio", stats.Descriptive, stats.Wilson(g.within, g.n, conf), g.n)
				}
			}
		}
	}
	// 5. Remediation time by detection period: Kaplan-Meier median and
	// p90 with open (and dismissed) findings censored, so slow teams are
	// not flattered by dropping what they have not fixed.
	dims := []struct {
		name string
		keys keyIndex
	}{
		{"severity", indexKeys(n, func(i int) string { return groups[i].Severity })},
		{"team", team},
		{"department", dept},
		{"department_severity", indexKeys(n, func(i int) string { return groups[i].Department + "/" + groups[i].Severity })},
		{"team_severity", indexKeys(n, func(i int) string { return groups[i].Team + "/" + groups[i].Severity })},
	}
	periods := byPeriod(n, func(i int) month { return groups[i].Detected })
	// Per month, quarter and year only the breakdowns the department
	// dashboard reads get survival curves; every one keeps its counts.
	curves := func(grain string, d int) bool {
		return grain == GrainAll || dims[d].name == "department_severity" || dims[d].name == "team_severity"
	}
	km := c.survivalQuantiles(groups, periods, len(dims), func(d int) keyIndex { return dims[d].keys }, curves)
	type tally struct {
		n, open int
		seen    bool
	}
	for pi, p := range periods {
		c.per = p.Period
		t := make([][]tally, len(dims))
		for d := range dims {
			t[d] = make([]tally, len(dims[d].keys.names))
		}
		var opened, fixed, debt int
		for _, i := range p.Items {
			g := &groups[i]
			for d := range dims {
				x := &t[d][dims[d].keys.of[i]]
				x.seen = true
				x.n += len(g.Days)
				if g.Status == "open" {
					x.open += g.N
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
		for d, dim := range dims {
			for k, x := range t[d] {
				if !x.seen {
					continue
				}
				name := dim.keys.names[k]
				if curves(p.Grain, d) {
					qs := km[d][pi*len(dim.keys.names)+k]
					for j, metric := range [...]string{"mttr_days_median", "mttr_days_p90"} {
						c.add(metric, dim.name, name, "days", stats.Descriptive, stats.Estimate{N: x.n, Value: qs[j],
							Low: math.NaN(), High: math.NaN(), Method: "kaplan_meier"}, x.n).Note = "open and dismissed findings censored"
					}
				}
				c.total("findings_open", dim.name, name, "count", x.n, float64(x.open))
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

// survivalQuantiles returns the Kaplan-Meier median and p90 of the times
// to fix of every breakdown d (keys(d)) of every period of periods that
// curves selects: out[d][pi*len(keys(d).names)+k] for period pi and key k
// (NaN when none).
//
// Every finding's time is sorted once, as Kaplan-Meier sorts them (by
// time, events before censorings at equal times), and scattered per grain
// and breakdown into its curve, keeping that order (scatter): a finding
// is in up to eleven curves, which a sort per curve would sort eleven
// times, and Kaplan-Meier then finds its input sorted.
func (c *computer) survivalQuantiles(groups []findingGroup, periods []periodItems, nDims int, keys func(d int) keyIndex, curves func(grain string, d int) bool) [][][2]float64 {
	type event struct {
		t   float64
		g   int32
		obs bool
	}
	var total int
	for _, g := range groups {
		total += len(g.Days)
	}
	// Events first, then censorings: the stable sort by time keeps events
	// before censorings at equal times.
	events := make([]event, 0, total)
	for _, fixed := range []bool{true, false} {
		for i, g := range groups {
			if (g.Status == "fixed") == fixed {
				for _, t := range g.Days {
					events = append(events, event{t, int32(i), fixed})
				}
			}
		}
	}
	stats.SortByValue(events, func(e event) float64 { return e.t })
	out := make([][][2]float64, nDims)
	for d := range out {
		out[d] = make([][2]float64, len(periods)*len(keys(d).names))
		for i := range out[d] {
			out[d][i] = [2]float64{math.NaN(), math.NaN()}
		}
	}
	// scatter's stable counting sort, written out to fill the two slices
	// Kaplan-Meier takes (no copy per curve), counting per group.
	times, obs := make([]float64, len(events)), make([]bool, len(events))
	for _, grain := range []string{GrainAll, GrainYear, GrainQuarter, GrainMonth} {
		at := grainIndex(periods, grain, len(groups))
		for d := range nDims {
			if !curves(grain, d) {
				continue
			}
			k := keys(d)
			nSlots := len(periods) * len(k.names)
			curve := make([]int32, len(groups)) // each group's curve (slot)
			off := make([]int, nSlots+1)
			for i, pi := range at {
				curve[i] = -1
				if pi >= 0 {
					curve[i] = pi*int32(len(k.names)) + k.of[i]
					off[curve[i]+1] += len(groups[i].Days)
				}
			}
			for s := range nSlots {
				off[s+1] += off[s]
			}
			next := slices.Clone(off[:nSlots])
			for _, e := range events {
				if s := curve[e.g]; s >= 0 {
					times[next[s]], obs[next[s]] = e.t, e.obs
					next[s]++
				}
			}
			for s := range nSlots {
				if off[s] < off[s+1] {
					qs := stats.KaplanMeierQuantiles(times[off[s]:off[s+1]], obs[off[s]:off[s+1]], 0.5, 0.9)
					out[d][s] = [2]float64{qs[0], qs[1]}
				}
			}
		}
	}
	return out
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
