package brief

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
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
	anchor, err := AsOf(ctx, conn, now)
	if err != nil {
		return Period{}, err
	}
	return LastFullQuarter(anchor), nil
}

// AsOf is the earlier of now and the as-of instant of the latest
// transform run: the instant the data describe.
func AsOf(ctx context.Context, conn driver.Conn, now time.Time) (time.Time, error) {
	q, err := statement("as_of.sql", Period{}, "")
	if err != nil {
		return time.Time{}, err
	}
	var asOf int64
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&asOf, &n); err != nil {
		return time.Time{}, hint(fmt.Errorf("read as_of of impact_stats: %w", err))
	}
	if n > 0 && time.Unix(asOf, 0).Before(now) {
		return time.Unix(asOf, 0).UTC(), nil
	}
	return now.UTC(), nil
}

// FirstData is the earliest deal close, ticket or deployment start in the
// analyst tables (the first period impact report --every writes); ok is
// false without any.
func FirstData(ctx context.Context, conn driver.Conn) (time.Time, bool, error) {
	q, err := statement("first_data.sql", Period{}, "")
	if err != nil {
		return time.Time{}, false, err
	}
	var first int64
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&first, &n); err != nil {
		return time.Time{}, false, hint(fmt.Errorf("read the first data: %w", err))
	}
	return time.Unix(first, 0).UTC(), n > 0, nil
}

// Statements returns the SQL Load sends for p, parameters inlined, in
// the order Load sends them (for checks on other servers). The department
// version's statements are bound to the example department 'Engineering'.
func Statements(p Period) ([]string, error) {
	var out []string
	for _, name := range []string{"as_of.sql", "first_data.sql", "stats.sql", "trend.sql", "scorecard.sql", "department.sql", "department_dora.sql", "departments.sql"} {
		q, err := statement(name, p, "Engineering")
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// statement reads an embedded query and inlines the period and the
// department (internal/sqlparam: the department, user text, becomes an
// escaped string literal that cannot change the statement): it keeps one
// rendering for the server, the chdb check and the reader.
func statement(name string, p Period, department string) (string, error) {
	b, err := sqlFiles.ReadFile("sql/" + name)
	if err != nil {
		return "", fmt.Errorf("read query %s: %w", name, err)
	}
	q, err := sqlparam.Bind(string(b), map[string]any{
		"from_date":  p.From.UTC().Format(time.DateOnly),
		"to_date":    p.To.UTC().Format(time.DateOnly),
		"from":       p.From.Unix(),
		"to":         p.To.Unix(),
		"department": department,
	})
	if err != nil {
		return "", fmt.Errorf("query %s: %w", name, err)
	}
	return q, nil
}

// LoadOptions configure Load. The zero value is what the transform
// stored; Changes adds difference-in-differences figures computed by the
// caller with the transform's code (transform.ComputeChanges).
type LoadOptions struct {
	// Organisation is printed in the header.
	Organisation string
	// Now is the generated-at time; zero means time.Now().
	Now time.Time
	// Changes are extra rows (win_rate_did, win_rate_did_placebo) for
	// process changes the transform was not told about.
	Changes []Stat
	// Department, when set, makes the brief the department's one-page
	// version: its own security KPIs, DORA figures, incident cost and
	// control spend, and monthly scorecard, none of the company-wide
	// figures.
	Department string
}

// Validate names the first bad field: a Changes row that is not a
// difference-in-differences figure of a named change.
func (o LoadOptions) Validate() error {
	for i, r := range o.Changes {
		if (r.Metric != "win_rate_did" && r.Metric != "win_rate_did_placebo") || r.Dimension != "change" || r.Value == "" {
			return fmt.Errorf("brief options: Changes[%d] is %s/%s/%q, want win_rate_did or win_rate_did_placebo of a named change", i, r.Metric, r.Dimension, r.Value)
		}
	}
	return nil
}

// Stat is one impact_stats row as the brief reads it.
type Stat struct {
	Metric, Dimension, Value string
	Period, Grain            string
	Start, End               time.Time
	N                        int64
	Estimate, Low, High      float64 // NaN: null
	Method, Evidence         string
	P                        float64
	Unit                     string
	NaiveLow, NaiveHigh      float64
	Cluster                  string
	Clusters                 int64
	MDE                      float64
	MinN                     int64
	Enough                   bool
	Note                     string
}

// Load fills Data for period p. Every figure is read from impact_stats,
// the one computation the dashboards and impact demo read too: for each
// figure the longest stored period (month, quarter, year or all data)
// inside p, the rule the dashboards apply to their time range, so the
// brief of a quarter shows the quarter's row and the dashboards show the
// same number for the same range. The department table's stocks and costs
// come from department_scorecard.
func Load(ctx context.Context, conn driver.Conn, p Period, o LoadOptions) (Data, error) {
	if !p.From.Before(p.To) {
		return Data{}, fmt.Errorf("brief period %s: from must be before to", p)
	}
	if err := o.Validate(); err != nil {
		return Data{}, fmt.Errorf("brief: %w", err)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	rows, err := readStats(ctx, conn, "stats.sql", p)
	if err != nil {
		return Data{}, err
	}
	s := newStore(rows)
	d := Data{Organisation: o.Organisation, From: p.From.UTC(), To: p.To.UTC(), GeneratedAt: o.Now.UTC(), MinN: s.minN(), Department: o.Department}
	if o.Department != "" {
		if err := loadDepartment(ctx, conn, p, s, o.Department, &d); err != nil {
			return Data{}, err
		}
		d.Periods = s.used()
		return d, nil
	}
	loadDeals(s, &d)
	loadTickets(s, &d)
	loadDeployments(s, &d)
	if err := loadScorecard(ctx, conn, p, s, &d); err != nil {
		return Data{}, err
	}
	trend, err := readStats(ctx, conn, "trend.sql", p)
	if err != nil {
		return Data{}, err
	}
	loadTrend(trend, &d)
	loadChanges(s, o.Changes, &d)
	d.Periods = s.used()
	return d, nil
}

// readStats runs an embedded impact_stats query for p.
func readStats(ctx context.Context, conn driver.Conn, name string, p Period) ([]Stat, error) {
	var out []Stat
	err := query(ctx, conn, name, p, func(r driver.Rows) error {
		var s Stat
		var n, clusters, minN uint64
		var est, lo, hi, pv, nlo, nhi, mde *float64
		var enough uint8
		if err := r.Scan(&s.Metric, &s.Dimension, &s.Value, &s.Period, &s.Grain, &s.Start, &s.End, &n, &est, &lo, &hi,
			&s.Method, &s.Evidence, &pv, &s.Unit, &nlo, &nhi, &s.Cluster, &clusters, &mde, &minN, &enough, &s.Note); err != nil {
			return err
		}
		s.N, s.Clusters, s.MinN, s.Enough = int64(n), int64(clusters), int64(minN), enough == 1
		s.Estimate, s.Low, s.High, s.P, s.NaiveLow, s.NaiveHigh, s.MDE = val(est), val(lo), val(hi), val(pv), val(nlo), val(nhi), val(mde)
		out = append(out, s)
		return nil
	})
	return out, err
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// store holds the impact_stats rows inside the period and picks, per
// figure, the longest stored period (ties: the latest).
type store struct {
	by   map[string][]Stat
	seen map[string]bool
}

func newStore(rows []Stat) *store {
	s := &store{by: map[string][]Stat{}, seen: map[string]bool{}}
	for _, r := range rows {
		k := r.Metric + "/" + r.Dimension + "/" + r.Value
		s.by[k] = append(s.by[k], r)
	}
	return s
}

// Pick returns the row the brief shows for metric/dimension/value among
// rows, all inside the period: all data when it lies inside (it holds
// every other period's rows), else the longest stored period, ties broken
// by the latest end. The dashboards' SQL applies the same rule.
func Pick(rows []Stat) (Stat, bool) {
	if len(rows) == 0 {
		return Stat{}, false
	}
	best := rows[0]
	for _, r := range rows[1:] {
		if (r.Grain == "all") != (best.Grain == "all") {
			if r.Grain == "all" {
				best = r
			}
			continue
		}
		span, bspan := r.End.Sub(r.Start), best.End.Sub(best.Start)
		if span > bspan || (span == bspan && r.End.After(best.End)) {
			best = r
		}
	}
	return best, true
}

func (s *store) get(metric, dim, value string) (Stat, bool) {
	r, ok := Pick(s.by[metric+"/"+dim+"/"+value])
	if ok {
		s.seen[r.Period] = true
	}
	return r, ok
}

func (s *store) minN() int64 {
	for _, rows := range s.by {
		for _, r := range rows {
			if r.MinN > 0 {
				return r.MinN
			}
		}
	}
	return int64(stats.DefaultMinN)
}

// used lists the stored periods the figures came from.
func (s *store) used() []string {
	var out []string
	for p := range s.seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// query runs one embedded statement for p and calls scan for every row.
func query(ctx context.Context, conn driver.Conn, name string, p Period, scan func(driver.Rows) error) error {
	return queryDepartment(ctx, conn, name, p, "", scan)
}

// queryDepartment is query for a statement of one department's rows
// (@department).
func queryDepartment(ctx context.Context, conn driver.Conn, name string, p Period, department string, scan func(driver.Rows) error) error {
	q, err := statement(name, p, department)
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

var bucketOrder = []string{"none", "fast", "medium", "slow", "incomplete"}

// figure turns a row into a Figure, scaled (100 for percentage points).
func figure(title string, r Stat, unit string, scale float64) Figure {
	f := Figure{Title: title, Estimate: scale * r.Estimate, Low: scale * r.Low, High: scale * r.High, N: r.N, Unit: unit,
		Method: methodName(r), Evidence: r.Evidence, Period: r.Period, Cluster: r.Cluster,
		NaiveLow: scale * r.NaiveLow, NaiveHigh: scale * r.NaiveHigh, MDE: scale * r.MDE, Note: r.Note}
	if !r.Enough || r.Evidence == stats.Insufficient {
		f.Evidence = stats.Insufficient
	}
	return f
}

var methodNames = map[string]string{
	"mantel_haenszel_rd_ols_cluster_cr1_t": "Mantel-Haenszel by segment, account-clustered t interval",
	"diff_ols_cluster_cr1_t":               "difference, account-clustered t interval",
	"stratified_rd_x_slow_pipeline":        "adjusted difference x slow-review pipeline",
	"paired_account_mean_diff_t":           "paired per-account mean difference, t interval",
	"median_diff_cluster_bootstrap":        "difference of medians, service cluster bootstrap",
	"did_ols_cluster_cr1_t":                "difference-in-differences, account-clustered t interval",
	"wilson":                               "Wilson",
	"mean_t":                               "mean, t interval",
	"median_order_statistic":               "median, order-statistic interval",
	"sum":                                  "sum",
}

func methodName(r Stat) string {
	if n, ok := methodNames[r.Method]; ok {
		return n
	}
	return r.Method
}

func loadDeals(s *store, d *Data) {
	for _, b := range bucketOrder {
		r, ok := s.get("win_rate", "review_bucket", b)
		bar := Bar{Label: b}
		if ok {
			bar = estimateBar(b, r, 100)
		}
		d.WinRateByBucket = append(d.WinRateByBucket, bar)
	}
	adj, ok := s.get("win_rate_diff_fast_minus_slow", "stratified", "segment")
	if ok {
		head := figure("Win-rate difference, fast vs slow security reviews, within segments", adj, "pp", 100)
		head.Wording = fmt.Sprintf("Within the same customer segment, deals whose security review took 5 days or less are associated with a win rate %s percentage points %s than deals whose review was still pending 15 days after the request.",
			formatNumber(math.Abs(adj.Estimate*100)), higherLower(adj.Estimate))
		if het, ok := s.get("win_rate_diff_heterogeneity", "stratified", "segment"); ok && !math.IsNaN(het.P) {
			head.Wording += fmt.Sprintf(" Whether it differs between segments: p = %s.", formatP(het.P))
		}
		d.Headlines = append(d.Headlines, suppress(head))
		d.Confounding = append(d.Confounding, head)
	}
	if pooled, ok := s.get("win_rate_diff_fast_minus_slow", "all", "pooled"); ok {
		f := figure("pooled (all segments together): confounded by segment", pooled, "pp", 100)
		d.Confounding = append([]Figure{f}, d.Confounding...)
	}
	for _, seg := range []string{"smb", "mid_market", "enterprise"} {
		if r, ok := s.get("win_rate_diff_fast_minus_slow", "segment", seg); ok {
			d.Segments = append(d.Segments, figure(seg, r, "pp", 100))
		}
	}
	if r, ok := s.get("revenue_lost_security_usd", "all", "pooled"); ok {
		d.RevenueLost = figure("Revenue recorded as lost to security", r, "USD", 1)
		d.RevenueLost.Wording = "Amount of deals closed as lost whose recorded loss reason was security: what sales wrote, not a causal estimate."
		d.Headlines = append(d.Headlines, d.RevenueLost)
	}
	if r, ok := s.get("revenue_associated_slow_reviews_usd", "stratified", "segment"); ok {
		d.RevenueAssociated = figure("Revenue associated with slow reviews", r, "USD", 1)
		d.RevenueAssociated.Wording = "The adjusted win-rate difference times the amount of slow-review deals: what those deals are associated with having lost against the fast-review win rate, with its interval."
		d.Headlines = append(d.Headlines, suppress(d.RevenueAssociated))
	}
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
		if !math.IsNaN(f.MDE) && f.MDE > 0 {
			f.Wording += fmt.Sprintf(" Only a difference of about %s %s or more would have been detected reliably (80%% power).", formatNumber(f.MDE), f.Unit)
		}
	}
	return f
}

func loadTickets(s *store, d *Data) {
	d.CSAT = append(d.CSAT, storedBars(s, "csat", "after_incident_30d", group{"own baseline", "0_affected_accounts"}, group{"30 days after an incident", "1"})...)
	r, ok := s.get("csat_incident_drop", "paired", "account")
	if !ok {
		return
	}
	f := figure("CSAT change after security incidents", r, "points", 1)
	f.Wording = fmt.Sprintf("Tickets an account filed within 30 days after a security incident affecting it are associated with a CSAT %s points %s than the same account's other tickets (n = accounts with both).",
		formatNumber(math.Abs(r.Estimate)), higherLower(r.Estimate))
	d.Headlines = append(d.Headlines, suppress(f))
}

// group is one labelled bar: the stored row whose dimension_value is value.
type group struct{ label, value string }

// storedBars is one bar per group, from the stored rows of metric and
// dimension dim (an empty bar where none is stored).
func storedBars(s *store, metric, dim string, groups ...group) []Bar {
	bars := make([]Bar, 0, len(groups))
	for _, g := range groups {
		bar := Bar{Label: g.label}
		if r, ok := s.get(metric, dim, g.value); ok {
			bar = estimateBar(g.label, r, 1)
		}
		bars = append(bars, bar)
	}
	return bars
}

// estimateBar is the bar of a row, muted below the minimum n, its
// interval drawn only when it has one.
func estimateBar(label string, r Stat, scale float64) Bar {
	bar := Bar{Label: label, N: r.N, Muted: !r.Enough}
	if r.N > 0 && !math.IsNaN(r.Estimate) {
		bar.Value, bar.Low, bar.High = scale*r.Estimate, scale*r.Low, scale*r.High
		bar.HasRange = !math.IsNaN(r.Low) && !math.IsNaN(r.High)
		if !bar.HasRange {
			bar.Low, bar.High = bar.Value, bar.Value
		}
	}
	return bar
}

func loadDeployments(s *store, d *Data) {
	d.GateLeadTime = append(d.GateLeadTime, storedBars(s, "deploy_lead_time_hours", "gate_blocked", group{"not blocked", "0"}, group{"gate-blocked", "1"})...)
	r, ok := s.get("gate_delay_hours", "all", "blocked_minus_unblocked")
	if !ok {
		return
	}
	f := figure("Deployment delay when a security gate blocks", r, "h", 1)
	f.Wording = fmt.Sprintf("Comparing like with like (%s), deployments whose commit a failing blocking gate held are associated with a median lead time %s hours %s than the others.",
		r.Note, formatNumber(math.Abs(r.Estimate)), longerShorter(r.Estimate))
	d.Headlines = append(d.Headlines, suppress(f))
}

func longerShorter(v float64) string {
	if v < 0 {
		return "shorter"
	}
	return "longer"
}

func loadScorecard(ctx context.Context, conn driver.Conn, p Period, s *store, d *Data) error {
	err := query(ctx, conn, "scorecard.sql", p, func(r driver.Rows) error {
		var row ScorecardRow
		var oc, oh, debt, exc, unknown uint64
		if err := r.Scan(&row.Department, &oc, &oh, &debt, &exc, &row.IncidentCostUSD, &row.ControlSpendUSD, &unknown); err != nil {
			return err
		}
		if row.Department == "" {
			row.Department = "(not in catalog)"
		}
		row.OpenCritical, row.OpenHigh, row.SecurityDebt, row.OpenExceptions, row.IncidentsCostUnknown = int64(oc), int64(oh), int64(debt), int64(exc), int64(unknown)
		row.CostOfRiskUSD = row.IncidentCostUSD + row.ControlSpendUSD
		row.SLACompliance, row.GateBlockRate = math.NaN(), math.NaN()
		dept := row.Department
		if dept == "(not in catalog)" {
			dept = ""
		}
		// Rates from impact_stats, so they equal the dashboards'.
		if st, ok := s.get("sla_compliance", "department", dept); ok {
			row.SLACompliance, row.SLAN, row.SLAMuted = st.Estimate, st.N, !st.Enough
		}
		if st, ok := s.get("gate_block_rate", "department", dept); ok {
			row.GateBlockRate, row.Deployments, row.GateMuted = st.Estimate, st.N, !st.Enough
		}
		d.Scorecard = append(d.Scorecard, row)
		if row.IncidentCostUSD > 0 || row.ControlSpendUSD > 0 {
			d.IncidentCost = append(d.IncidentCost, Bar{Label: row.Department, Value: row.IncidentCostUSD, Low: row.IncidentCostUSD, High: row.IncidentCostUSD})
			d.ControlSpend = append(d.ControlSpend, Bar{Label: row.Department, Value: row.ControlSpendUSD, Low: row.ControlSpendUSD, High: row.ControlSpendUSD})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r, ok := s.get("incident_cost_usd", "all", "total"); ok {
		f := figure("Incident cost", r, "USD", 1)
		unknown := 0.0
		if u, ok := s.get("incidents_cost_unknown", "all", "total"); ok {
			unknown = u.Estimate
		}
		f.Wording = fmt.Sprintf("Cost of the %d security incidents detected in the period, charged to the departments whose decisions contributed (incidents naming none: (unassigned)).", r.N)
		if unknown > 0 {
			f.Wording += fmt.Sprintf(" %.0f of them have no cost yet: a lower bound.", unknown)
		}
		d.Headlines = append(d.Headlines, f)
	}
	if r, ok := s.get("control_spend_usd", "all", "total"); ok {
		f := figure("Control spend", r, "USD", 1)
		f.Wording = fmt.Sprintf("Cost of assessing and monitoring the %d vendor tools departments asked for in the period: spend on controls, not a loss.", r.N)
		d.Headlines = append(d.Headlines, f)
	}
	return nil
}

// loadTrend keeps the quarterly rows of the two trend figures up to the
// period's end.
func loadTrend(rows []Stat, d *Data) {
	byQ := map[string]*TrendRow{}
	for _, r := range rows {
		t := byQ[r.Period]
		if t == nil {
			t = &TrendRow{Quarter: r.Period, Start: r.Start}
			byQ[r.Period] = t
		}
		switch r.Metric {
		case "win_rate_diff_fast_minus_slow":
			t.WinRate = figure(r.Period, r, "pp", 100)
		case "csat_incident_drop":
			t.CSAT = figure(r.Period, r, "points", 1)
		}
	}
	for _, t := range byQ {
		d.Trend = append(d.Trend, *t)
	}
	sort.Slice(d.Trend, func(i, j int) bool { return d.Trend[i].Start.Before(d.Trend[j].Start) })
}

// loadChanges lists the difference-in-differences figures: stored ones and
// those computed for this brief.
func loadChanges(s *store, extra []Stat, d *Data) {
	add := func(r Stat) {
		f := figure(r.Value, r, "pp", 100)
		if r.Metric == "win_rate_did_placebo" {
			f.Title = r.Value + " (placebo, before the change)"
		}
		d.Changes = append(d.Changes, f)
	}
	seen := map[string]bool{}
	for _, r := range extra {
		seen[r.Metric+"/"+r.Value] = true
		add(r)
	}
	var keys []string
	for k := range s.by {
		if strings.HasPrefix(k, "win_rate_did") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, ok := s.get(strings.SplitN(k, "/", 3)[0], "change", strings.SplitN(k, "/", 3)[2])
		if ok && !seen[r.Metric+"/"+r.Value] {
			add(r)
		}
	}
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
