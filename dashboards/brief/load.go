package brief

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/secimpact/impact/internal/sqlparam"
	"github.com/secimpact/impact/transform/stats"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// Period is the half-open interval [From, To) the brief covers.
type Period struct {
	From, To time.Time
}

// String formats the period as "2026-04-01..2026-06-30" (last day inclusive).
func (p Period) String() string {
	return p.From.UTC().Format(time.DateOnly) + ".." + p.To.UTC().Add(-time.Second).Format(time.DateOnly)
}

// LastFullQuarter returns the latest calendar quarter (UTC) that ends at or
// before t: for 2026-07-01 00:00 it is Q2 2026, for 2026-06-30 it is Q1.
func LastFullQuarter(t time.Time) Period {
	t = t.UTC()
	q := (int(t.Month()) - 1) / 3
	end := time.Date(t.Year(), time.Month(q*3+1), 1, 0, 0, 0, 0, time.UTC) // start of t's quarter
	return Period{From: end.AddDate(0, -3, 0), To: end}
}

// DefaultPeriod is the last full quarter before the earlier of now and the
// as-of instant of the latest transform run (max(as_of) of impact_stats),
// so a brief of simulated or backfilled data covers the last quarter that
// has data rather than an empty one. Without impact_stats rows it is the
// last full quarter before now.
func DefaultPeriod(ctx context.Context, conn driver.Conn, now time.Time) (Period, error) {
	q, err := statement("as_of.sql", Period{})
	if err != nil {
		return Period{}, err
	}
	var asOf int64
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&asOf, &n); err != nil {
		return Period{}, hint(fmt.Errorf("read as_of of impact_stats: %w", err))
	}
	anchor := now
	if n > 0 && time.Unix(asOf, 0).Before(now) {
		anchor = time.Unix(asOf, 0)
	}
	return LastFullQuarter(anchor), nil
}

// Statements returns the SQL Load sends for p, parameters inlined, in
// the order Load sends them (for checks on other servers).
func Statements(p Period) ([]string, error) {
	var out []string
	for _, name := range []string{"as_of.sql", "deals.sql", "tickets.sql", "deployments.sql", "scorecard.sql"} {
		q, err := statement(name, p)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// statement reads an embedded query and inlines the period (internal/sqlparam):
// it keeps one rendering for the server, the chdb check and the reader.
func statement(name string, p Period) (string, error) {
	b, err := sqlFiles.ReadFile("sql/" + name)
	if err != nil {
		return "", fmt.Errorf("read query %s: %w", name, err)
	}
	q, err := sqlparam.Bind(string(b), map[string]any{
		"from_date": p.From.UTC().Format(time.DateOnly),
		"to_date":   p.To.UTC().Format(time.DateOnly),
		"from":      p.From.Unix(),
		"to":        p.To.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("query %s: %w", name, err)
	}
	return q, nil
}

// LoadOptions configure Load. The zero value uses 95% intervals, the
// default minimum n (stats.DefaultMinN), 2000 bootstrap resamples, seed 1.
type LoadOptions struct {
	// Options are the statistics' settings, the ones transform computes
	// impact_stats with.
	stats.Options
	// Organisation is printed in the header.
	Organisation string
	// Now is the generated-at time; zero means time.Now().
	Now time.Time
}

// Load fills Data for period p from the analyst tables of conn's database
// (deal_facts, ticket_facts, deployment_facts, department_scorecard). The
// period figures are computed here with the transform/stats procedures
// over the fact rows of the period, because impact_stats holds whole-window
// figures only.
func Load(ctx context.Context, conn driver.Conn, p Period, o LoadOptions) (Data, error) {
	if !p.From.Before(p.To) {
		return Data{}, fmt.Errorf("brief period %s: from must be before to", p)
	}
	if err := o.Validate(); err != nil {
		return Data{}, fmt.Errorf("brief: %w", err)
	}
	if o.Confidence == 0 {
		o.Confidence = stats.DefaultConfidence
	}
	if o.Resamples == 0 {
		o.Resamples = stats.DefaultResamples
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	minN := o.Rules.MinN
	if minN == 0 {
		minN = stats.DefaultMinN
	}
	d := Data{Organisation: o.Organisation, From: p.From.UTC(), To: p.To.UTC(), GeneratedAt: o.Now.UTC(), MinN: int64(minN)}
	for _, step := range []func(context.Context, driver.Conn, Period, LoadOptions, *Data) error{loadDeals, loadTickets, loadDeployments, loadScorecard} {
		if err := step(ctx, conn, p, o, &d); err != nil {
			return Data{}, err
		}
	}
	return d, nil
}

// query runs one embedded statement for p and calls scan for every row.
func query(ctx context.Context, conn driver.Conn, name string, p Period, scan func(driver.Rows) error) error {
	q, err := statement(name, p)
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return hint(fmt.Errorf("brief query %s: %w", name, err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("brief query %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("brief query %s: %w", name, err)
	}
	return nil
}

var (
	bucketOrder  = []string{"none", "fast", "medium", "slow", "incomplete"}
	segmentOrder = []string{"smb", "mid_market", "enterprise"}
)

func loadDeals(ctx context.Context, conn driver.Conn, p Period, o LoadOptions, d *Data) error {
	type wn struct{ won, n int }
	byB := map[string]*wn{}
	bySB := map[string]*wn{}
	var lost float64
	var nLost int
	err := query(ctx, conn, "deals.sql", p, func(r driver.Rows) error {
		var seg, bucket, outcome, reason string
		var won uint8
		var amount float64
		if err := r.Scan(&seg, &bucket, &won, &outcome, &reason, &amount); err != nil {
			return err
		}
		for _, k := range []struct {
			m map[string]*wn
			k string
		}{{byB, bucket}, {bySB, seg + "/" + bucket}} {
			if k.m[k.k] == nil {
				k.m[k.k] = &wn{}
			}
			k.m[k.k].n++
			k.m[k.k].won += int(won)
		}
		if outcome == "lost" && reason == "security" {
			lost += amount
			nLost++
		}
		return nil
	})
	if err != nil {
		return err
	}
	get := func(m map[string]*wn, k string) wn {
		if v := m[k]; v != nil {
			return *v
		}
		return wn{}
	}
	r, c := o.Rules, o.Confidence
	for _, b := range bucketOrder {
		g := get(byB, b)
		e := stats.Wilson(g.won, g.n, c)
		bar := Bar{Label: b, N: int64(g.n), Muted: !r.Enough(g.n)}
		if g.n > 0 {
			bar.Value, bar.Low, bar.High, bar.HasRange = 100*e.Value, 100*e.Low, 100*e.High, true
		}
		d.WinRateByBucket = append(d.WinRateByBucket, bar)
	}
	f, s := get(byB, "fast"), get(byB, "slow")
	pooled := stats.NewcombeDiff(f.won, f.n, s.won, s.n, c)
	var strata []stats.Stratum
	for _, seg := range segmentOrder {
		fs, ss := get(bySB, seg+"/fast"), get(bySB, seg+"/slow")
		strata = append(strata, stats.Stratum{X1: fs.won, N1: fs.n, X0: ss.won, N0: ss.n})
	}
	mh := stats.MantelHaenszelRD(strata, c)
	pooledFig := pp("pooled (all segments together)", pooled, "Newcombe hybrid score", r.Evidence(stats.Descriptive, f.n, s.n), f.n+s.n)
	mhFig := pp("stratified by customer segment", mh, "Mantel-Haenszel, Greenland-Robins variance", r.Evidence(stats.Adjusted, f.n, s.n), mh.N)
	d.Confounding = []Figure{pooledFig, mhFig}
	head := mhFig
	head.Title = "Win-rate difference, fast vs slow security reviews"
	head.Wording = fmt.Sprintf("Within the same customer segment, deals whose security review took 5 days or less are associated with a win rate %s percentage points %s than deals whose review took more than 15 days.",
		formatNumber(math.Abs(mh.Value*100)), higherLower(mh.Value))
	d.Headlines = append(d.Headlines, suppress(head))
	d.WinRateNote = fmt.Sprintf("Fast vs slow, pooled: %s pp (%s); within segments: %s pp (%s).",
		formatNumber(pooledFig.Estimate), formatInterval(pooledFig), formatNumber(mhFig.Estimate), formatInterval(mhFig))

	d.RevenueLost = Figure{Title: "Revenue lost to security reasons", Estimate: lost, Low: math.NaN(), High: math.NaN(), N: int64(nLost),
		Unit: "USD", Method: "sum of amount_usd", Evidence: stats.Descriptive,
		Wording: "Amount of deals closed as lost whose recorded loss reason was security."}
	d.Headlines = append(d.Headlines, d.RevenueLost)
	return nil
}

func pp(title string, e stats.Estimate, method, evidence string, n int) Figure {
	return Figure{Title: title, Estimate: 100 * e.Value, Low: 100 * e.Low, High: 100 * e.High, N: int64(n), Unit: "pp", Method: method, Evidence: evidence}
}

func higherLower(v float64) string {
	if v < 0 {
		return "lower"
	}
	return "higher"
}

// suppress greys out a figure whose evidence is insufficient (below MinN)
// and says so when its interval includes zero.
func suppress(f Figure) Figure {
	if f.Evidence == stats.Insufficient || math.IsNaN(f.Estimate) {
		f.Suppressed = true
		f.Evidence = stats.Insufficient
		return f
	}
	if f.Low <= 0 && f.High >= 0 {
		f.Wording += " The interval includes zero: the data do not show a clear difference."
	}
	return f
}

func loadTickets(ctx context.Context, conn driver.Conn, p Period, o LoadOptions, d *Data) error {
	type acct struct{ after, before []float64 }
	accounts := map[string]*acct{}
	var after, base []float64
	err := query(ctx, conn, "tickets.sql", p, func(r driver.Rows) error {
		var id string
		var a uint8
		var score float64
		if err := r.Scan(&id, &a, &score); err != nil {
			return err
		}
		if accounts[id] == nil {
			accounts[id] = &acct{}
		}
		if a == 1 {
			after = append(after, score)
			accounts[id].after = append(accounts[id].after, score)
		} else {
			base = append(base, score)
			accounts[id].before = append(accounts[id].before, score)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r, c := o.Rules, o.Confidence
	d.CSAT = append(d.CSAT, estimateBars(r, c, stats.MeanT, group{"own baseline", base}, group{"30 days after an incident", after})...)
	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var paired []float64
	for _, id := range ids {
		a := accounts[id]
		if len(a.after) > 0 && len(a.before) > 0 {
			paired = append(paired, mean(a.after)-mean(a.before))
		}
	}
	e := stats.MeanT(paired, c)
	f := Figure{Title: "CSAT change after security incidents", Estimate: e.Value, Low: e.Low, High: e.High, N: int64(len(paired)),
		Unit: "points", Method: "paired per-account mean difference, t interval", Evidence: r.Evidence(stats.QuasiExperiment, len(paired))}
	f.Wording = fmt.Sprintf("Tickets an account filed within 30 days after a security incident affecting it are associated with a CSAT %s points %s than the same account's other tickets (n = accounts with both).",
		formatNumber(math.Abs(e.Value)), higherLower(e.Value))
	d.Headlines = append(d.Headlines, suppress(f))
	return nil
}

// group is one labelled sample of a bar chart.
type group struct {
	label string
	x     []float64
}

// estimateBars is one bar per group: estimate applied to its sample at
// confidence c (see estimateBar).
func estimateBars(r stats.Rules, c float64, estimate func([]float64, float64) stats.Estimate, groups ...group) []Bar {
	bars := make([]Bar, 0, len(groups))
	for _, g := range groups {
		bars = append(bars, estimateBar(g.label, len(g.x), estimate(g.x, c), r))
	}
	return bars
}

// estimateBar is the bar of an estimate over n observations, muted below
// the minimum n, its interval drawn only when it has one.
func estimateBar(label string, n int, e stats.Estimate, r stats.Rules) Bar {
	bar := Bar{Label: label, N: int64(n), Muted: !r.Enough(n)}
	if n > 0 {
		bar.Value, bar.Low, bar.High = e.Value, e.Low, e.High
		bar.HasRange = !math.IsNaN(e.Low) && !math.IsNaN(e.High)
	}
	return bar
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func loadDeployments(ctx context.Context, conn driver.Conn, p Period, o LoadOptions, d *Data) error {
	var blocked, unblocked []float64
	err := query(ctx, conn, "deployments.sql", p, func(r driver.Rows) error {
		var b uint8
		var h float64
		if err := r.Scan(&b, &h); err != nil {
			return err
		}
		if b == 1 {
			blocked = append(blocked, h)
		} else {
			unblocked = append(unblocked, h)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r, c := o.Rules, o.Confidence
	d.GateLeadTime = append(d.GateLeadTime, estimateBars(r, c, stats.MedianCI, group{"not blocked", unblocked}, group{"gate-blocked", blocked})...)
	e := stats.BootstrapMedianDiff(blocked, unblocked, o.Resamples, c, o.Seed)
	f := Figure{Title: "Deployment delay when a security gate blocks", Estimate: e.Value, Low: e.Low, High: e.High, N: int64(len(blocked) + len(unblocked)),
		Unit: "h", Method: "difference of median lead times, bootstrap", Evidence: r.Evidence(stats.Descriptive, len(blocked), len(unblocked))}
	f.Wording = fmt.Sprintf("Deployments whose commit a failing blocking gate held are associated with a median lead time %s hours %s than the others (%d blocked of %d).",
		formatNumber(math.Abs(e.Value)), longerShorter(e.Value), len(blocked), len(blocked)+len(unblocked))
	d.Headlines = append(d.Headlines, suppress(f))
	return nil
}

func longerShorter(v float64) string {
	if v < 0 {
		return "shorter"
	}
	return "longer"
}

func loadScorecard(ctx context.Context, conn driver.Conn, p Period, o LoadOptions, d *Data) error {
	var total float64
	var top ScorecardRow
	err := query(ctx, conn, "scorecard.sql", p, func(r driver.Rows) error {
		var row ScorecardRow
		var oc, oh, within, breached, debt, deps, blocked, exc uint64
		if err := r.Scan(&row.Department, &oc, &oh, &within, &breached, &debt, &deps, &blocked, &exc,
			&row.CostOfRiskUSD, &row.IncidentCostUSD, &row.VendorCostUSD); err != nil {
			return err
		}
		if row.Department == "" {
			row.Department = "(not in catalog)"
		}
		row.OpenCritical, row.OpenHigh, row.SecurityDebt, row.OpenExceptions = int64(oc), int64(oh), int64(debt), int64(exc)
		row.SLACompliance, row.GateBlockRate = math.NaN(), math.NaN()
		if within+breached > 0 {
			row.SLACompliance = float64(within) / float64(within+breached)
		}
		if deps > 0 {
			row.GateBlockRate = float64(blocked) / float64(deps)
		}
		d.Scorecard = append(d.Scorecard, row)
		if row.CostOfRiskUSD > 0 {
			d.CostOfRisk = append(d.CostOfRisk, Bar{Label: row.Department, Value: row.CostOfRiskUSD, Low: row.CostOfRiskUSD, High: row.CostOfRiskUSD})
		}
		total += row.CostOfRiskUSD
		if row.CostOfRiskUSD > top.CostOfRiskUSD {
			top = row
		}
		return nil
	})
	if err != nil {
		return err
	}
	f := Figure{Title: "Cost of risk, all departments", Estimate: total, Low: math.NaN(), High: math.NaN(), N: int64(len(d.Scorecard)),
		Unit: "USD", Method: "sum over departments", Evidence: stats.Descriptive}
	if top.Department != "" && total > 0 {
		f.Wording = fmt.Sprintf("%s carries the largest share: %s (%s of it from incidents its decisions contributed to). n = departments.",
			top.Department, formatUSD(top.CostOfRiskUSD), formatUSD(top.IncidentCostUSD))
	}
	d.Headlines = append(d.Headlines, f)
	return nil
}

// ErrNoAnalystTables is returned (wrapped) when the database lacks the
// tables transform builds.
var ErrNoAnalystTables = errors.New("the analyst tables are missing: run `impact transform --once` (after `impact ingest`) first")

// hint names the fix when a table does not exist (ClickHouse error 60).
func hint(err error) error {
	var ex *proto.Exception
	if errors.As(err, &ex) && ex.Code == 60 {
		return fmt.Errorf("%w (%w)", ErrNoAnalystTables, err)
	}
	return err
}
