package transform

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/transform/stats"
)

// StatsTable is the table of computed statistics.
const StatsTable = "impact_stats"

// StatsOptions configure the statistics of impact_stats. The zero value
// uses 95% intervals, the default minimum n (stats.DefaultMinN), 2000
// bootstrap resamples and seed 1.
type StatsOptions struct {
	// Options are the statistics' settings (stats.Options, their one
	// owner).
	stats.Options
	// Changes are named process changes (for example security
	// questionnaire automation from 2026-03-01) whose difference-in-
	// differences of win rates impact_stats carries (win_rate_did).
	Changes []Change
}

// Validate names the first bad field: a bad statistics setting
// (stats.Options.Validate) or a change without a name or date.
func (o StatsOptions) Validate() error {
	if err := o.Options.Validate(); err != nil {
		return err
	}
	for i, c := range o.Changes {
		if strings.TrimSpace(c.Name) == "" || c.Date.IsZero() {
			return fmt.Errorf("stats options: Changes[%d] %q: want a name and a date", i, c.Name)
		}
	}
	return nil
}

// Change is a process change with the date it took effect.
type Change struct {
	Name string
	Date time.Time
}

// ParseChange reads NAME=YYYY-MM-DD.
func ParseChange(s string) (Change, error) {
	name, date, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Change{}, fmt.Errorf("change %q: want NAME=YYYY-MM-DD", s)
	}
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(date))
	if err != nil {
		return Change{}, fmt.Errorf("change %q: want NAME=YYYY-MM-DD: %w", s, err)
	}
	return Change{Name: name, Date: d}, nil
}

// Stat is one row of impact_stats.
type Stat struct {
	Metric, Dimension, Value string
	N                        int
	Estimate, Low, High      float64 // NaN: null
	Method, Evidence         string
	P, PAdjusted             float64 // NaN: null
	Unit                     string
	Period                   Period
	// NaiveLow and NaiveHigh are the interval assuming independent
	// observations, beside a cluster-robust Low and High (NaN: none).
	NaiveLow, NaiveHigh float64
	Cluster             string // account, service, or "" (independent)
	Clusters            int
	MDE                 float64 // minimum detectable effect at 80% power; NaN: none
	MinN                int     // the minimum n applied
	Enough              bool    // every compared group has at least MinN
	Note                string
}

// refreshStats computes impact_stats from the fact tables, each read when
// wait says it is built, and swaps it in.
func refreshStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time, wait tablesBuilt, u *statsReuse) (TableReport, error) {
	tr := TableReport{Table: StatsTable, Mode: Full}
	rowsOut, err := pipeStats(ctx, conn, o, asOf, wait, u)
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
			s.Method, s.Evidence, nullable(s.P), nullable(s.PAdjusted), s.Unit, asOf, now,
			s.Period.Name, s.Period.Grain, dateOrEpoch(s.Period.Start), dateOrEpoch(s.Period.End), nullable(s.NaiveLow), nullable(s.NaiveHigh),
			s.Cluster, uint64(s.Clusters), nullable(s.MDE), uint64(s.MinN), boolU8(s.Enough), s.Note); err != nil {
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
	if u != nil {
		u.mu.Lock()
		tr.Kept, tr.Rebuilt = u.reused, u.read
		u.mu.Unlock()
		tr.FiguresReused = u.figures.Hits()
	}
	return tr, nil
}

// dateOrEpoch keeps a zero time (a period of no data) inside Date's range.
func dateOrEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func nullable(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// ComputeChanges computes the difference-in-differences rows
// (win_rate_did, win_rate_did_placebo) of changes over the deals in conn's
// database, with the same code the refresh uses for StatsOptions.Changes:
// for a report on a change the transform was not told about.
func ComputeChanges(ctx context.Context, conn driver.Conn, o StatsOptions, changes []Change) ([]Stat, error) {
	o.Changes = changes
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	deals, err := loadDeals(ctx, conn, nil)
	if err != nil {
		return nil, err
	}
	c := newComputer(o)
	c.changes(deals)
	return c.out, nil
}

// ComputeStats computes the impact_stats rows from the analyst tables in
// conn's database without writing them: it loads the tables (loadStats)
// and runs the one computation of every figure (computeStats). asOf must
// be the as-of time of the refresh that built the tables: finding_groups
// counts open findings' ages and security debt as of it (an error says
// so otherwise, unless there are no findings).
func ComputeStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time) ([]Stat, error) {
	return pipeStats(ctx, conn, o, asOf, noWait, nil)
}

// pipeStats loads the inputs (loadStats) and computes the figures
// (runFamilies) side by side: each read starts when wait says its tables
// are built, each family when the parts it needs are read.
func pipeStats(ctx context.Context, conn driver.Conn, o StatsOptions, asOf time.Time, wait tablesBuilt, u *statsReuse) ([]Stat, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := &statsInput{}
	var read [numParts]chan struct{}
	for i := range read {
		read[i] = make(chan struct{})
	}
	loaded := func(ctx context.Context, needs []statsPart) error {
		for _, p := range needs {
			select {
			case <-read[p]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	var out []Stat
	var famErr error
	computed := make(chan struct{})
	go func() {
		defer close(computed)
		var memo *figureMemo
		if u != nil {
			memo = u.figures
		}
		out, famErr = runFamilies(ctx, in, o, memo, loaded)
	}()
	err := loadStats(ctx, conn, asOf, in, wait, u, func(p statsPart) { close(read[p]) })
	if err != nil {
		cancel() // the families waiting for a part that failed stop
	}
	<-computed
	if err != nil {
		return nil, err
	}
	return out, famErr
}

// resamples is the bootstrap replicate count: Options.Resamples when set,
// else stats.DefaultResamples, reduced for very large samples so one
// refresh does at most about 2e8 draws (at least 200 replicates; the
// interval is then already narrow). The reduced count is rounded down to
// a multiple of 100, so it stays the same while the data grows by a few
// percent: the figures of the periods that did not change can then be
// reused (figureMemo), where a count that moved with every new
// deployment changed every period's.
func resamples(set, n int) int {
	if set > 0 {
		return set
	}
	b := stats.DefaultResamples
	if n > 0 && b*n > 200_000_000 {
		b = max(200, 200_000_000/n/100*100)
	}
	return b
}

// bindAsOf inlines the as-of time of a stats query.
func bindAsOf(q string, asOf time.Time) string {
	out, _ := params{"asof": asOf.Unix()}.bind(q) // every @name in queries.go is @asof
	return out
}

const statsInsertColumns = "metric, dimension, dimension_value, n, estimate, ci_low, ci_high, method, evidence, p_value, p_adjusted, unit, as_of, computed_at, " +
	"period, period_grain, period_start, period_end, naive_ci_low, naive_ci_high, cluster, clusters, mde, min_n, enough_n, note"

// StatsStatements returns the SQL the impact_stats step sends: the reads of
// the fact tables (as-of time inlined), the table DDL, a sample row insert
// and both swaps (first build and replace), for checks on other servers.
func StatsStatements() []string {
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	out := []string{}
	for p, q := range append(partQueries[:], qDealCount) { // the deals' part counts them first
		if strings.Contains(q, "{partition}") {
			// Every partition, and all but two (Options.Cache); with
			// these integer ids partitionRead cannot fail.
			table := partTables[p][0]
			all, _ := partitionRead(q, table, nil)
			some, _ := partitionRead(q, table, []string{"0", "202601"})
			out = append(out, all, some)
			continue
		}
		out = append(out, bindAsOf(q, asOf))
	}
	// The tickets' other reads (loadTickets), from the layer table a full
	// build writes standing for both the base and the delta.
	base := modelNamed("ticket_facts").layerTable("base", "a")
	out = append(out, qAffectedAccounts, ticketRead(qTicketRows, base, ""), ticketRead(qTicketCounts, base, ""),
		ticketRead(qTicketCounts, base, "layer_key_hash IN (SELECT layer_key_hash FROM "+base+")"))
	ddl, _ := sqlFS.ReadFile("sql/" + StatsTable + ".ddl.sql")
	for _, exists := range []bool{false, true} {
		next := StatsTable + "_next"
		out = append(out, "DROP TABLE IF EXISTS "+next)
		s, _ := statements(StatsTable+".ddl.sql", string(ddl), tmplData{Table: next})
		out = append(out, s...)
		out = append(out, "INSERT INTO "+next+" ("+statsInsertColumns+") VALUES ('win_rate', 'review_bucket', 'fast', 70, 0.8, 0.69, 0.88, 'wilson', 'descriptive', NULL, NULL, 'ratio', toDateTime(0), toDateTime(0), "+
			"'2026-Q2', 'quarter', toDate('2026-04-01'), toDate('2026-07-01'), NULL, NULL, '', 0, NULL, 30, 1, '')")
		out = append(out, swapSteps(StatsTable, exists)...)
	}
	return out
}
