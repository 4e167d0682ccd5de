// Package transform builds the analyst contract tables (findings,
// deal_facts, deployment_facts, ticket_facts, department_scorecard,
// impact_stats) from the typed event tables written by ingest, and keeps
// them fresh.
//
// Every table is rebuilt into <table>_next and swapped in with one
// RENAME TABLE t TO t_old, t_next TO t, which ClickHouse runs under its
// global lock on 18.16 and current releases: readers see the old table or
// the new one, never a half-built table. A refresh after the first is
// incremental: only entities whose events (or whose joined catalog,
// review, gate or incident events) arrived since the watermark are
// recomputed. The entity tables are partitioned so that entities that
// change together sit together (open findings, unsolved tickets, running
// deployments; the rest by month); only the partitions that held or now
// hold a changed entity are rebuilt (their unchanged rows copied), and
// every other partition is attached to the new table from the live one
// by hard links, without reading it. A change of a model's SQL or of the
// SLA policy rebuilds that model in full.
//
// The watermark is taken from the server, not from the ingester's clock:
// each typed row carries inserted_at, stamped by ClickHouse as it writes
// the row (migration 0004), and a refresh reads the rows stamped in
// [previous watermark, start of this run). The new watermark is the start
// of this run, moved back past every INSERT still running then (their rows
// may be stamped earlier and become visible later) and by Options.Overlap;
// see snapshotWatermark for why no committed row is ever skipped.
//
// One refresh runs at a time per database, across processes and hosts:
// Refresh holds the "transform" lease (schemas/migrations.AcquireLease)
// for the whole run.
package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/schemas/migrations"
)

// Modes of a table refresh.
const (
	Full        = "full"
	Incremental = "incremental"
)

// DefaultDORAWindow is the change-failure window of dora_changes.
const DefaultDORAWindow = 24 * time.Hour

func (o Options) doraWindow() time.Duration {
	if o.DORAWindow <= 0 {
		return DefaultDORAWindow
	}
	return o.DORAWindow
}

// fullBuildConcurrency is how many models a full refresh builds at once
// (see buildModels).
const fullBuildConcurrency = 2

// statementThreads returns the max_threads the refresh's statements run
// with: opt when set, else the server's max_threads shared among the
// full refresh's concurrent builds (0: the server's setting could not be
// read as a number, and is left as it is).
//
// A refresh runs its statements side by side (two builds at a time in a
// full refresh, every ready model at once in an incremental one), so the
// server's cores are already shared among statements. With max_threads at
// the core count on top, ClickHouse 18.16 splits each statement into
// per-thread streams whose partial aggregates it merges again, and reads
// for an INSERT ... SELECT in extra threads: on 2 cores at 10M events the
// server process used 58.5-65.3 s of CPU in a full refresh with 2 threads
// per statement and 50.7-62.6 s with 1 (docs/transform.md, fifteenth
// pass).
func statementThreads(ctx context.Context, conn driver.Conn, opt int) (int, error) {
	if opt > 0 {
		return opt, nil
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'max_threads'").Scan(&v); err != nil {
		return 0, fmt.Errorf("read server settings: %w", err)
	}
	return sharedThreads(v, fullBuildConcurrency), nil
}

// sharedThreads divides the server's max_threads setting (18.16 shows
// "2"; current releases "'auto(2)'") among n statements, at least 1; 0
// when the setting holds no number.
func sharedThreads(setting string, n int) int {
	threads, err := strconv.Atoi(firstNumber.FindString(setting))
	if err != nil || threads <= 0 {
		return 0
	}
	return max(1, threads/n)
}

var firstNumber = regexp.MustCompile(`[0-9]+`)

// DefaultOverlap is how far below the server clock the watermark is set
// when Options.Overlap is zero.
const DefaultOverlap = 10 * time.Second

// LockName is the lease lock a refresh holds (in schema_migrations_lock).
const LockName = "transform"

// Options configure Refresh. The zero value refreshes incrementally when
// possible, as of now, with the default SLA policy.
type Options struct {
	// AsOf is the instant state-dependent figures are computed for (an
	// open finding is overdue when sla_due_at < AsOf). Zero means now.
	AsOf time.Time
	// SLA derives sla_due_at where the source did not send one (the
	// transform is the one owner of the policy). Zero value:
	// DefaultSLAPolicy.
	SLA SLAPolicy
	// Full forces a full rebuild of every table.
	Full bool
	// Overlap moves the watermark this far below the server clock at the
	// start of a run. On one server it only re-reads a few rows; on a
	// cluster it must exceed the clock skew between the servers (rows are
	// stamped by the server that writes them). Default DefaultOverlap.
	Overlap time.Duration
	// Cluster names the cluster (remote_servers) when the typed tables
	// are Distributed over replicated shards (impact migrate --cluster).
	// The watermark then also looks for running INSERTs on every server
	// and waits until every replica has the parts written before the run
	// began (SYSTEM SYNC REPLICA), so that no row committed on one
	// replica is missed by reading another. Requires Dial.
	Cluster string
	// Dial connects to another server of the cluster (host:port from
	// system.clusters) with the same credentials and database.
	Dial func(ctx context.Context, addr string) (driver.Conn, error)
	// NoWait makes Refresh return at once, with an error wrapping
	// migrations.ErrLeaseHeld that names the holder, when another refresh
	// of the database is running; by default it waits for it.
	NoWait bool
	// DORAWindow is how long after a change a rollback, hotfix or
	// incident of the same service counts as its failure (dora_changes);
	// default DefaultDORAWindow.
	DORAWindow time.Duration
	// DeltaShare is how large the delta of a layered model (findings,
	// ticket_facts: the entities recomputed since its base was written)
	// may grow, as a share of its base's rows, before an incremental
	// refresh folds it into a new base. Every read of the table filters the base by the
	// delta's keys, and every incremental refresh rewrites the delta; a
	// fold costs what rewriting the changed partitions of the base costs.
	// Default DefaultDeltaShare.
	DeltaShare float64
	// StatementThreads is the max_threads every statement of the refresh
	// runs with. Zero means the server's own max_threads (its cores, by
	// default) shared among the models a full refresh builds at once:
	// max_threads / 2, at least 1 (statementThreads).
	StatementThreads int
	// Stats configures impact_stats.
	Stats StatsOptions
	// Logger receives one line per table and run; nil means slog.Default().
	Logger *slog.Logger
	// Cache, when set, keeps impact_stats' reads of the partitions of
	// deal_facts and deployment_facts for the next refresh of the same
	// process, which then reads only the partitions it rebuilt (Cache).
	// Nil reads every partition every time.
	Cache *Cache
}

// TableReport is the outcome of one table's refresh.
type TableReport struct {
	Table   string
	Mode    string // Full or Incremental
	Rows    uint64 // rows after the refresh
	Touched uint64 // entities recomputed (incremental only)
	// Written is the rows written to the new table: all of them in a full
	// build; the recomputed entities and the unchanged rows of the
	// rebuilt partitions in an incremental one; for a layered model that
	// writes a delta, the whole new delta (the recomputed entities and
	// the earlier delta's others).
	Written uint64
	// Rebuilt and Kept count the partitions rebuilt and those attached
	// unchanged from the live table (incremental only; for a layered
	// model, from its base when the refresh folded its delta). For
	// impact_stats with Options.Cache, the partitions of deal_facts,
	// deployment_facts and dora_changes it read, and those whose reads it
	// reused; the base of ticket_facts' view counts as one more.
	Rebuilt, Kept int
	// keptIDs are the ids of the Kept partitions of a plain (not
	// layered) model.
	keptIDs []string
	// Delta is, for a layered model, the rows of its delta table after
	// the refresh (0 after a full build or a fold); Folded tells that an
	// incremental refresh folded the delta into a new base.
	Delta  uint64
	Folded bool
	// Began is when the model's build started, from the start of the
	// refresh (a full refresh builds two models at a time: the schedule).
	Began    time.Duration
	Duration time.Duration
	// Waited is, for impact_stats, which starts with the refresh and reads
	// each table once it is built, the time until the last of its tables
	// was built: its own work is Duration - Waited.
	Waited time.Duration
	// FiguresReused is, for impact_stats with Options.Cache, the periods
	// of the deals' and deployments' figures taken from the last refresh
	// because their input did not change (figureMemo).
	FiguresReused int
}

// Report is the outcome of a Refresh.
type Report struct {
	RunID     string
	Started   time.Time
	Duration  time.Duration
	Mode      string    // Full when any table was rebuilt in full
	Watermark time.Time // rows stamped (inserted_at) from here on are read again by the next refresh
	AsOf      time.Time
	Tables    []TableReport
}

// Rows returns the row count of table after the refresh (0 if absent).
func (r Report) Rows(table string) uint64 {
	for _, t := range r.Tables {
		if t.Table == table {
			return t.Rows
		}
	}
	return 0
}

// MaxConcurrentQueries is the most queries a refresh runs at once: two
// per SQL model (the copy of its rebuilt partitions beside the attach of
// the kept ones; its drops and count after its swap come after both), one
// per part of impact_stats' input, and the renewal of its lease: 22.
const MaxConcurrentQueries = 24

// sourceTables are the typed tables the models read (schemas owns their
// names).
var sourceTables = schemas.Tables()

// Refresh brings every analyst contract table up to date with the typed
// tables in conn's database and records the run in transform_runs. It
// holds the database's transform lease for the run: a second Refresh (in
// this process, another one or on another host) waits until the first is
// done, or with Options.NoWait returns an error naming the holder.
//
// The models and impact_stats' reads run side by side, up to
// MaxConcurrentQueries queries at once: conn's pool must allow that many
// (clickhouse-go fails a query that waits longer than its DialTimeout for
// a free connection). chconn.Open's pool does.
func Refresh(ctx context.Context, conn driver.Conn, opts Options) (Report, error) {
	if err := opts.Validate(); err != nil {
		return Report{}, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	lease, err := migrations.AcquireLease(ctx, conn, LockName, migrations.LeaseOptions{
		Wait: !opts.NoWait,
		OnWait: func(h migrations.Holder) {
			log.Info("transform waiting: another refresh of this database is running", "holder", h.Owner, "since", h.Since)
		},
	})
	if err != nil {
		return Report{}, fmt.Errorf("transform: %w", err)
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			log.Warn("transform: release lock", "err", err)
		}
	}()
	return refresh(ctx, conn, opts, log)
}

// run is one refresh in progress: what its stages share.
type run struct {
	conn     driver.Conn
	opts     Options
	log      *slog.Logger
	start    time.Time
	rep      Report
	p        params // the values the model SQL refers to as @name
	policy   string // the SLA policy, part of every model's version
	state    map[string]stateRow
	havePrev bool // an earlier refresh completed: incremental builds are possible
	versions []stateRow
	reuse    *statsReuse // what impact_stats may reuse of Options.Cache
	markedAt time.Time   // the server clock when the run marked its start
}

// refresh runs the stages of a refresh: start (bookkeeping tables,
// watermark, parameters), each build level of the models in the order
// their declared reads give (buildOrder), the department slices, and the
// record of the run.
func refresh(ctx context.Context, conn driver.Conn, opts Options, log *slog.Logger) (Report, error) {
	levels, err := buildOrder()
	if err != nil {
		return Report{}, err
	}
	r, ctx, err := startRun(ctx, conn, opts, log)
	if err == nil {
		err = r.buildModels(ctx, levels)
	}
	if err == nil {
		err = r.slices(ctx)
	}
	if err == nil {
		err = r.record(ctx)
	}
	if opts.Cache != nil {
		if err != nil {
			opts.Cache.reset() // tables may have changed: nothing cached is known to hold
		} else {
			opts.Cache.commit(r.reuse, r.rep.RunID, r.markedAt, r.rep.Watermark)
		}
	}
	return r.rep, err
}

// startRun creates the bookkeeping tables, reads the state of the last
// refresh and the watermark, and fixes the parameters of this run. The
// returned context carries the server settings the statements need.
func startRun(ctx context.Context, conn driver.Conn, opts Options, log *slog.Logger) (*run, context.Context, error) {
	if opts.SLA == (SLAPolicy{}) {
		opts.SLA = DefaultSLAPolicy
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	start := time.Now()
	r := &run{conn: conn, opts: opts, log: log, start: start,
		rep: Report{RunID: fmt.Sprintf("%d", start.UnixNano()), Started: start.UTC().Truncate(time.Second), AsOf: opts.AsOf, Mode: Incremental}}
	if r.rep.AsOf.IsZero() {
		r.rep.AsOf = start
	}
	r.rep.AsOf = r.rep.AsOf.UTC().Truncate(time.Second)

	if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
		return r, ctx, err
	}
	// Current releases refuse an INSERT whose rows span more than 100
	// partitions (months, here) by default; 18.16 has no such limit (and
	// no such setting).
	var limited uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = 'max_partitions_per_insert_block'").Scan(&limited); err != nil {
		return r, ctx, fmt.Errorf("read server settings: %w", err)
	}
	if limited > 0 {
		ctx = withSettings(ctx, clickhouse.Settings{"max_partitions_per_insert_block": 0})
	}
	threads, err := statementThreads(ctx, conn, opts.StatementThreads)
	if err != nil {
		return r, ctx, err
	}
	if threads > 0 {
		ctx = withSettings(ctx, clickhouse.Settings{"max_threads": threads})
	}
	if r.state, err = readState(ctx, conn); err != nil {
		return r, ctx, err
	}
	// Before any table changes: whether the cache's reads still hold, and
	// this run's marker, which tells every other process's cache they do
	// not.
	if r.reuse, r.markedAt, err = openCache(ctx, conn, opts.Cache, r.rep.RunID, r.state); err != nil {
		return r, ctx, err
	}
	until, wm, err := snapshotWatermark(ctx, conn, opts)
	if err != nil {
		return r, ctx, err
	}
	r.rep.Watermark = wm
	var prev stateRow
	prev, r.havePrev = r.state["*"]
	since := prev.watermark
	if since.Unix() < 0 {
		since = time.Unix(0, 0)
	}
	r.p = runParams(opts, r.rep.AsOf, since, until)
	if changed, err := catalogChanged(ctx, conn, r.p); err != nil {
		return r, ctx, err
	} else if !changed {
		r.p["catalog_changed"] = 0
	}
	r.policy = fmt.Sprintf("%s/%d/%d/%d/%d/%d", opts.SLA.Version, slaSeconds(opts.SLA, "critical"), slaSeconds(opts.SLA, "high"),
		slaSeconds(opts.SLA, "medium"), slaSeconds(opts.SLA, "low"), slaSeconds(opts.SLA, "info"))

	// Keys of every model go to one transform_keys, told apart by the
	// model column, so it is emptied once, before the first level.
	if err := conn.Exec(ctx, "TRUNCATE TABLE transform_keys"); err != nil {
		return r, ctx, fmt.Errorf("empty transform_keys: %w", err)
	}
	return r, ctx, nil
}

// runParams are the @name values of the model SQL for a run with opts (its
// SLA policy and DORA failure window) as of asOf, reading typed rows
// stamped in [since, until).
func runParams(opts Options, asOf, since, until time.Time) params {
	sla := opts.SLA
	return params{
		"asof":         asOf.Unix(),
		"since":        since.Unix(),
		"until":        until.Unix(),
		"sla_critical": slaSeconds(sla, "critical"),
		"sla_high":     slaSeconds(sla, "high"),
		"sla_medium":   slaSeconds(sla, "medium"),
		"sla_low":      slaSeconds(sla, "low"),
		"sla_info":     slaSeconds(sla, "info"),
		"dora_window":  int64(opts.doraWindow() / time.Second),
		// 1 unless the run has read that no catalog row was written in
		// [since, until) (catalogChanged).
		"catalog_changed": 1,
	}
}

// catalogChanged tells whether service_events has rows written in the
// run's [since, until): the catalog seldom changes, and without such rows
// the touch queries that look for the entities of changed services
// (reading every finding and deployment) are left out.
func catalogChanged(ctx context.Context, conn driver.Conn, p params) (bool, error) {
	q, err := p.bind("SELECT count() FROM service_events WHERE inserted_at >= toDateTime(@since) AND inserted_at < toDateTime(@until)")
	if err != nil {
		return false, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("read catalog changes: %w", err)
	}
	return n > 0, nil
}

// buildModels builds every model, each as soon as the models whose
// tables it reads are built (not level by level: department_scorecard
// waits for finding_groups, not for dora_changes beside it). Models that read
// none of each other's tables are built concurrently. In an incremental
// refresh all of them at once: while one waits on an INSERT ... SELECT
// the server runs another's, and their per-table statement overheads
// overlap. Full builds two at a time: each is CPU-bound on the server,
// but only part of it runs on all cores (the final merge of the
// aggregation and the writing of the parts are single-threaded), and a
// second build fills the idle core; more only compete for memory and
// cores. The places go first to the models heading the longest chains of
// models that wait on them (launchOrder). Reports keep the order of the
// levels.
//
// impact_stats reads most tables, each for some of its figures only. It
// starts at once, outside the limit, and each of its reads waits for its
// own tables (tablesBuilt), so the figures of the deals are computed while
// findings and dora_changes are still being built. A table built in this
// run does not change again in it, so the figures are those of reading
// every table at the end.
func (r *run) buildModels(ctx context.Context, levels [][]model) error {
	var ms []model
	for _, l := range levels {
		ms = append(ms, l...)
	}
	index, deps := modelDeps(ms)
	limit := len(ms)
	if r.opts.Full || !r.havePrev {
		limit = fullBuildConcurrency
	}
	launch := launchOrder(deps)

	type result struct {
		i     int
		rep   TableReport
		later []string // the drops of the tables the model's swap replaced
		err   error
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reports := make([]TableReport, len(ms))
	// The partitions a table's build attached unchanged, for impact_stats'
	// reads; it asks only after waiting for the table, and reports[j] is
	// written before done[j] is closed.
	r.reuse.kept = func(table string) []string {
		if j, ok := index[table]; ok {
			return reports[j].keptIDs
		}
		return nil
	}
	started := make([]bool, len(ms))
	built := make([]bool, len(ms))
	done := make([]chan struct{}, len(ms)) // closed when the model is built
	for i := range done {
		done[i] = make(chan struct{})
	}
	wait := func(ctx context.Context, tables ...string) error {
		for _, t := range tables {
			j, ok := index[t]
			if !ok {
				continue // a typed table: not written by a refresh
			}
			select {
			case <-done[j]:
			case <-ctx.Done():
				return fmt.Errorf("transform: wait for %s: %w", t, ctx.Err())
			}
		}
		return nil
	}
	results := make(chan result, len(ms))
	// Once a model's table is swapped in, the models that read it start;
	// dropping the tables it replaced and counting its rows (0.1-0.3 s at
	// 10M events: a count of findings reads the view) run beside them.
	var finishing sync.WaitGroup
	rows := make([]uint64, len(ms))
	finishErrs := make([]error, len(ms))
	finish := func(i int, later []string, rep TableReport) {
		defer finishing.Done()
		m := ms[i]
		if finishErrs[i] = execAll(bctx, r.conn, later, "drop what "+m.name+" replaced"); finishErrs[i] != nil {
			return
		}
		if rows[i], finishErrs[i] = countRows(bctx, r.conn, m.name); finishErrs[i] != nil {
			return
		}
		r.log.Info("transform table", "table", m.name, "mode", rep.Mode, "rows", rows[i], "touched", rep.Touched, "written", rep.Written,
			"partitions_rebuilt", rep.Rebuilt, "partitions_kept", rep.Kept, "delta", rep.Delta, "folded", rep.Folded,
			"figures_reused", rep.FiguresReused, "duration", rep.Duration.Round(time.Millisecond))
	}
	// running counts the models in flight; building those that hold one
	// of the limit's places: impact_stats, which starts at once and waits
	// for its tables read by read, holds none.
	running, building, left := 0, 0, len(ms)
	var firstErr error
	for left > 0 {
		for _, i := range launch {
			stats := ms[i].name == StatsTable
			if firstErr != nil || started[i] || (!stats && building >= limit) {
				continue
			}
			ready, depFull := true, false
			for _, j := range deps[i] {
				ready = ready && built[j]
				depFull = depFull || (built[j] && reports[j].Mode == Full)
			}
			if !ready && !stats {
				continue
			}
			started[i], running = true, running+1
			if !stats {
				building++
			}
			go func() {
				rep, later, err := r.build(bctx, ms[i], depFull, wait)
				results <- result{i, rep, later, err}
			}()
		}
		if running == 0 {
			break // an error stopped the launches
		}
		res := <-results
		running, left = running-1, left-1
		if ms[res.i].name != StatsTable {
			building--
		}
		reports[res.i], built[res.i] = res.rep, res.err == nil
		if res.err == nil {
			close(done[res.i])
			if ms[res.i].name != StatsTable {
				finishing.Add(1)
				go finish(res.i, res.later, res.rep)
			}
		}
		if res.err != nil && firstErr == nil {
			firstErr = res.err
			cancel()
		}
	}
	finishing.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := firstError(finishErrs); err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("transform: %d models wait for tables no model builds", left) // buildOrder rules it out
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	for i, m := range ms {
		if m.name == StatsTable {
			r.rep.Tables = append(r.rep.Tables, reports[i])
			continue
		}
		reports[i].Rows = rows[i]
		if reports[i].Mode == Full && m.key != "" {
			r.rep.Mode = Full
		}
		r.rep.Tables = append(r.rep.Tables, reports[i])
		r.versions = append(r.versions, stateRow{model: m.name, version: r.version(m)})
	}
	return nil
}

// modelDeps returns each model's position in ms by name, and for each
// model the positions of the models whose tables it reads.
func modelDeps(ms []model) (map[string]int, [][]int) {
	index := make(map[string]int, len(ms))
	for i, m := range ms {
		index[m.name] = i
	}
	deps := make([][]int, len(ms))
	for i, m := range ms {
		for _, t := range m.reads {
			if j, ok := index[t]; ok && j != i {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return index, deps
}

// launchOrder returns the order in which buildModels offers the models
// their build places (deps[i] are the models model i reads): the longest
// chain of models waiting on a model's table first, ties in the order of
// deps (build levels).
// It matters when full builds are limited: launched in level order,
// deal_facts took the second place beside findings, deployment_facts
// followed it, and dora_changes, which waits for both, ran last with one
// core idle (about 4 of the 30 s at 10M events). Started first, findings
// and deployment_facts end together and the short models fill both places.
func launchOrder(deps [][]int) []int {
	readers := make([][]int, len(deps))
	for i, ds := range deps {
		for _, j := range ds {
			readers[j] = append(readers[j], i)
		}
	}
	chain := make([]int, len(deps)) // models on the longest chain from i to a model no one reads
	var walk func(i int) int
	walk = func(i int) int {
		if chain[i] == 0 {
			chain[i] = 1
			for _, k := range readers[i] {
				chain[i] = max(chain[i], 1+walk(k))
			}
		}
		return chain[i]
	}
	order := make([]int, len(deps))
	for i := range order {
		order[i] = i
		walk(i)
	}
	slices.SortStableFunc(order, func(a, b int) int { return chain[b] - chain[a] })
	return order
}

// build refreshes one model's table: impact_stats by its Go computation,
// an SQL model in full or incrementally.
//
// depFull tells that a model m reads was rebuilt in full in this run: a
// model that finds its touched entities through another model's keys of
// this run (dora_changes) has none to go by then, so it is rebuilt in
// full too. wait blocks until tables of this run are built: impact_stats
// reads each as it comes.
//
// It returns, for an SQL model, the statements that drop the tables its
// swap replaced: readers of the new table need not wait for them.
func (r *run) build(ctx context.Context, m model, depFull bool, wait tablesBuilt) (TableReport, []string, error) {
	t0 := time.Now()
	if m.name == StatsTable {
		var mu sync.Mutex
		var waited time.Duration
		timed := func(ctx context.Context, tables ...string) error {
			err := wait(ctx, tables...)
			mu.Lock()
			waited = max(waited, time.Since(t0))
			mu.Unlock()
			return err
		}
		st, err := refreshStats(ctx, r.conn, r.opts.Stats, r.rep.AsOf, timed, r.reuse)
		if err != nil {
			return st, nil, err
		}
		st.Began, st.Duration, st.Waited = t0.Sub(r.start), time.Since(t0), waited
		r.log.Info("transform table", "table", StatsTable, "mode", Full, "rows", st.Rows, "duration", st.Duration.Round(time.Millisecond),
			"waited", st.Waited.Round(time.Millisecond))
		return st, nil, nil
	}
	v := r.version(m)
	exists, err := tableExists(ctx, r.conn, m.name)
	if err != nil {
		return TableReport{}, nil, err
	}
	var cur layout
	layered := false
	if m.layered && exists {
		if cur, layered, err = liveLayout(ctx, r.conn, m); err != nil {
			return TableReport{}, nil, err
		}
	}
	mode := Incremental
	if r.opts.Full || !r.havePrev || !exists || m.key == "" || r.state[m.name].version != v || depFull || (m.layered && !layered) {
		mode = Full
	}
	tr := TableReport{Table: m.name, Mode: mode}
	var later []string
	if m.layered {
		later, err = buildLayered(ctx, r.conn, m, mode, exists, cur, r.p, r.opts.Cluster != "", r.opts.deltaShare(), &tr)
	} else {
		later, err = buildModel(ctx, r.conn, m, mode, exists, r.p, r.opts.Cluster != "", &tr)
	}
	tr.Began, tr.Duration = t0.Sub(r.start), time.Since(t0)
	return tr, later, err
}

// version is m's version in this run: its SQL and the SLA policy, and the
// DORA failure window for a model whose SQL uses it (its rows depend on
// it, so another window rebuilds them in full).
func (r *run) version(m model) string {
	policy := r.policy
	for _, suffix := range []string{".sql", ".touch.sql"} {
		if text, _ := m.file(suffix); strings.Contains(text, "@dora_window") {
			policy += fmt.Sprintf("/dora=%d", r.p["dora_window"])
			break
		}
	}
	return m.version(policy)
}

// slices refreshes each registered department's slice, from the tables
// just built.
func (r *run) slices(ctx context.Context) error {
	sl, err := refreshDepartments(ctx, r.conn, r.log)
	if err != nil {
		return err
	}
	if sl.Table != "" {
		r.rep.Tables = append(r.rep.Tables, sl)
	}
	return nil
}

// record stores the models' versions and the new watermark
// (transform_state) and the run's report (transform_runs).
func (r *run) record(ctx context.Context) error {
	r.rep.Duration = time.Since(r.start)
	versions := append(r.versions, stateRow{model: "*", version: "", watermark: r.rep.Watermark})
	if err := writeState(ctx, r.conn, versions); err != nil {
		return err
	}
	if err := writeRuns(ctx, r.conn, r.rep); err != nil {
		return err
	}
	r.log.Info("transform refresh", "mode", r.rep.Mode, "duration", r.rep.Duration.Round(time.Millisecond), "watermark", r.rep.Watermark)
	return nil
}

// firstError returns the first error that is not a cancellation caused by
// another one, else the first error.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func slaSeconds(p SLAPolicy, severity string) int64 {
	d, ok := p.For(severity)
	if !ok {
		return 0
	}
	return int64(d / time.Second)
}

// buildModel fills <name>_next (in full, or the touched entities, then
// the rest of the partitions they touch, then the untouched partitions as
// they are) and swaps it in. It returns the drops of the tables the swap
// replaced (afterSwap), for the caller to run.
func buildModel(ctx context.Context, conn driver.Conn, m model, mode string, exists bool, p params, cluster bool, tr *TableReport) ([]string, error) {
	stmts, err := modelSteps(m, mode, p, cluster, layout{})
	if err != nil {
		return nil, err
	}
	if err := execAll(ctx, conn, stmts, "refresh "+m.name); err != nil {
		return nil, err
	}
	if mode == Incremental {
		rebuild, err := queryStrings(ctx, conn, "partitions of "+m.name, m.partitionsQuery(m.name, m.name))
		if err != nil {
			return nil, err
		}
		live, err := livePartitions(ctx, conn, m.name)
		if err != nil {
			return nil, err
		}
		if tr.Written, err = carryOver(ctx, conn, m, m.name, m.name, rebuild, live); err != nil {
			return nil, err
		}
		tr.keptIDs = without(live, rebuild)
		tr.Rebuilt, tr.Kept = len(rebuild), len(tr.keptIDs)
		if tr.Touched, err = countTouched(ctx, conn, m); err != nil {
			return nil, err
		}
	} else if tr.Written, err = countRows(ctx, conn, m.name+"_next"); err != nil {
		return nil, err
	}
	now, later := afterSwap(swapSteps(m.name, exists))
	return later, execAll(ctx, conn, now, "swap "+m.name)
}

// afterSwap splits a model's swap statements after the RENAME that makes
// its new table live: the drops of the tables it replaced follow, and
// readers of the new table need not wait for them.
func afterSwap(stmts []string) (now, later []string) {
	i := len(stmts)
	for i > 0 && strings.HasPrefix(stmts[i-1], "DROP TABLE") {
		i--
	}
	return stmts[:i], stmts[i:]
}

// copySettings are the settings of the copy of a rebuilt partition's
// unchanged rows. By default an INSERT ... SELECT gathers the rows it
// reads into blocks of at least a million rows (min_insert_block_size_*)
// before writing them: the copy of findings at 10M events (744,000 rows
// of the open partition and three months) was one block of 1.2 GB, faulted
// in page by page and freed every refresh. The SELECT reads one part at a
// time per thread, so its blocks each go to one partition already; in
// blocks of 262,144 rows the copy holds 480 MB, and its user CPU fell from
// 1.04-1.18 to 0.84-0.92 s (alone on the server; its system time, 0.3-1.2 s,
// varies too much on the test machine to say), with 11 parts for the 4
// partitions instead of 6.
var copySettings = clickhouse.Settings{
	"min_insert_block_size_rows":  262144,
	"min_insert_block_size_bytes": 64 << 20,
}

type settingsKey struct{}

// withSettings returns ctx with the query settings s added to those set by
// an earlier withSettings on ctx (clickhouse.WithSettings replaces them).
func withSettings(ctx context.Context, s clickhouse.Settings) context.Context {
	merged := clickhouse.Settings{}
	if prev, ok := ctx.Value(settingsKey{}).(clickhouse.Settings); ok {
		maps.Copy(merged, prev)
	}
	maps.Copy(merged, s)
	return clickhouse.Context(context.WithValue(ctx, settingsKey{}, merged), clickhouse.WithSettings(merged))
}

func execAll(ctx context.Context, conn driver.Conn, stmts []string, what string) error {
	for i, q := range stmts {
		if q == "" {
			continue
		}
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s step %d: %w", what, i+1, err)
		}
	}
	return nil
}

// modelSteps returns the statements that fill <name>_next: in full, or
// (incremental) the touched entity keys and their recomputed rows.
func modelSteps(m model, mode string, p params, cluster bool, cur layout) ([]string, error) {
	next := m.name + "_next"
	out := []string{"DROP TABLE IF EXISTS " + next}
	add := func(suffix string, d tmplData) error {
		text, ok := m.file(suffix)
		if !ok {
			return fmt.Errorf("model %s has no %s file", m.name, suffix)
		}
		stmts, err := statements(m.name+suffix, text, d)
		if err != nil {
			return err
		}
		for _, q := range stmts {
			if q, err = p.bind(q); err != nil {
				return fmt.Errorf("%s%s: %w", m.name, suffix, err)
			}
			out = append(out, q)
		}
		return nil
	}
	if err := add(".ddl.sql", tmplData{Table: next}); err != nil {
		return nil, err
	}
	if m.layered {
		key, err := m.keyHashSteps(next)
		if err != nil {
			return nil, err
		}
		out = append(out, key...)
	}
	in := inOperator(cluster)
	d := tmplData{Table: next, Model: m.name, Key: m.key, Source: m.name, Incremental: mode == Incremental, In: in}
	if mode == Incremental {
		touch := tmplData{In: in, CatalogChanged: p["catalog_changed"] != 0, Base: cur.base, Delta: cur.delta}
		if err := add(".touch.sql", touch); err != nil {
			return nil, err
		}
	}
	if err := add(".sql", d); err != nil {
		return nil, err
	}
	return out, nil
}

// partitionsQuery lists the partitions an incremental refresh rebuilds
// (after the touched entities were recomputed into <name>_next): those of
// src (the live table, or a layered model's base) holding an entity of
// keys (the model's touched keys in transform_keys, or another working
// set) and those of the recomputed rows.
func (m model) partitionsQuery(src, keys string) string {
	text, _ := sqlFS.ReadFile("sql/partitions.sql")
	stmts, _ := statements("partitions.sql", string(text), tmplData{Table: m.name + "_next", Source: src, Model: keys, Key: m.key, Partition: m.partition()})
	return stmts[0]
}

// livePartitions lists the partitions of table that have parts.
func livePartitions(ctx context.Context, conn driver.Conn, table string) ([]string, error) {
	return queryStrings(ctx, conn, "partitions of "+table,
		"SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = @table AND active ORDER BY partition_id",
		clickhouse.Named("table", table))
}

var partitionValue = regexp.MustCompile(`^[0-9]+$`)

// carrySteps complete an incremental <name>_next from src (the live table,
// or a layered model's base): copy the rows of the partitions being
// rebuilt whose key is not in the working set keys of transform_keys, then
// attach the untouched partitions. The last statement is the attach (""
// when there is none). Partition values come from the server; only
// integers are accepted (every model partitions by an integer expression),
// so they cannot change a statement.
func carrySteps(m model, src, keys string, rebuild, keep []string) ([]string, error) {
	if m.partition() == "" {
		return nil, fmt.Errorf("model %s: an incrementally refreshed model needs a PARTITION BY", m.name)
	}
	for _, v := range append(append([]string(nil), rebuild...), keep...) {
		if !partitionValue.MatchString(v) {
			return nil, fmt.Errorf("model %s: partition %q is not an integer", m.name, v)
		}
	}
	cols, err := m.columns()
	if err != nil {
		return nil, err
	}
	d := tmplData{Table: m.name + "_next", Source: src, Model: keys, Key: m.key, Columns: strings.Join(cols, ", "),
		Partition: m.partition(), Partitions: strings.Join(rebuild, ", "), Attach: keep}
	var out []string
	if len(rebuild) > 0 {
		copyText, _ := sqlFS.ReadFile("sql/copy.sql")
		stmts, err := statements("copy.sql", string(copyText), d)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	attach := ""
	if len(keep) > 0 {
		carryText, _ := sqlFS.ReadFile("sql/carry.sql")
		stmts, err := statements("carry.sql", string(carryText), d)
		if err != nil {
			return nil, err
		}
		attach = stmts[0]
	}
	return append(out, attach), nil
}

// carryOver completes an incremental <name>_next from src (carrySteps):
// the copy of the rebuilt partitions' other rows and the attach of the
// kept partitions run side by side (they write other partitions; the
// attach, hard links, is mostly the kernel's time and need not wait for
// the copy). It returns the rows written: those of the rebuilt partitions
// (the recomputed rows and the copy), not the attached ones.
func carryOver(ctx context.Context, conn driver.Conn, m model, src, keys string, rebuild, live []string) (uint64, error) {
	carry, err := carrySteps(m, src, keys, rebuild, without(live, rebuild))
	if err != nil {
		return 0, err
	}
	attach := make(chan error, 1)
	go func() { attach <- execAll(ctx, conn, carry[len(carry)-1:], "attach the kept partitions of "+m.name) }()
	copyErr := execAll(withSettings(ctx, copySettings), conn, carry[:len(carry)-1], "copy the rebuilt partitions of "+m.name)
	if err := errors.Join(copyErr, <-attach); err != nil {
		return 0, err
	}
	if len(rebuild) == 0 {
		return 0, nil
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT sum(rows) FROM system.parts WHERE database = currentDatabase() AND table = @table AND active AND has(@ids, partition_id)",
		clickhouse.Named("table", m.name+"_next"), clickhouse.Named("ids", rebuild)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the rows written to %s_next: %w", m.name, err)
	}
	return n, nil
}

// without returns the values of all not in drop.
func without(all, drop []string) []string {
	skip := map[string]bool{}
	for _, v := range drop {
		skip[v] = true
	}
	var out []string
	for _, v := range all {
		if !skip[v] {
			out = append(out, v)
		}
	}
	return out
}

// swapSteps make <name>_next the live table: one RENAME of both tables,
// which ClickHouse runs under its global lock (18.16 and current
// releases), so a reader finds the old table or the new one, and a query
// that started on the old one finishes on its parts; then the old table
// is dropped.
func swapSteps(name string, exists bool) []string {
	next, old := name+"_next", name+"_old"
	if !exists {
		return []string{fmt.Sprintf("RENAME TABLE %s TO %s", next, name)}
	}
	return []string{"DROP TABLE IF EXISTS " + old, fmt.Sprintf("RENAME TABLE %s TO %s, %s TO %s", name, old, next, name), "DROP TABLE " + old}
}

func queryStrings(ctx context.Context, conn driver.Conn, what, q string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func execFile(ctx context.Context, conn driver.Conn, file string, d tmplData) error {
	stmts, err := fileStatements(file, d)
	if err != nil {
		return err
	}
	for i, q := range stmts {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("run %s statement %d: %w", file, i+1, err)
		}
	}
	return nil
}

// tableExists asks with EXISTS TABLE (name is a model's, never input), not
// system.tables: 18.16 fails a read of system.tables when a table of the
// database is renamed meanwhile, which the other models' swaps do.
func tableExists(ctx context.Context, conn driver.Conn, name string) (bool, error) {
	var n uint8
	if err := conn.QueryRow(ctx, "EXISTS TABLE "+name).Scan(&n); err != nil {
		return false, fmt.Errorf("look up table %s: %w", name, err)
	}
	return n > 0, nil
}

// countTouched counts m's touched entities in transform_keys.
func countTouched(ctx context.Context, conn driver.Conn, m model) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(key) FROM transform_keys WHERE model = @model",
		clickhouse.Named("model", m.name)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count touched %s: %w", m.name, err)
	}
	return n, nil
}

func countRows(ctx context.Context, conn driver.Conn, name string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", name, err)
	}
	return n, nil
}

// sqlSnapshot reads the server clock and, in the same query (so after
// it), the longest-running INSERT: any statement whose text mentions
// insert, bar this query itself. Over-matching only lowers the watermark.
const sqlSnapshot = `SELECT now(), max(elapsed), count() FROM system.processes
WHERE positionCaseInsensitive(query, 'insert') > 0 AND query_id != @qid`

// snapshotWatermark returns until, the server clock at the start of the
// run (this run reads rows stamped before it), and the watermark the next
// run reads from:
//
//	wm = until - ceil(longest running INSERT) - 1s - overlap.
//
// Why no committed row is skipped: a row is stamped (inserted_at, the
// second of now() at its INSERT, never before the INSERT began) and
// becomes visible when its INSERT commits the row's part. Take a row with
// inserted_at < wm, written by INSERT q. If q was running when the
// process list was read, q began at least ceil(its elapsed) before
// until, so inserted_at >= until - ceil(elapsed) - 1s >= wm: impossible.
// If q began after, inserted_at >= until > wm: impossible. So q had
// finished, and the row was visible before this run read anything: this
// run's touch queries (reading [previous wm, until)) or an earlier run saw
// it. Rows stamped in [wm, until) are read again by the next run; the
// rebuild is idempotent, so that costs a little work, never a result. On
// one server the same clock stamps rows and reads until; overlap absorbs
// clock steps and, on a cluster, the skew between servers.
//
// Rows written before migration 0004 read inserted_at as the time of the
// query (no stored value), never < until, so they never look new.
//
// On a cluster (Options.Cluster) rows are stamped by the server that
// writes them, and a reader may be routed to a replica that has not yet
// fetched a part. So the process list of every server is read too (after
// until; an INSERT running on any of them moves the watermark back by
// its elapsed time, as above), and then every replica of every typed
// table is synced (SYSTEM SYNC REPLICA: it returns once the replica has
// every part logged before it began). An INSERT that had finished before
// its server's process list was read had logged its parts by then, so
// after the syncs every replica has them. Writers must insert into the
// Distributed tables synchronously (insert_distributed_sync = 1, see
// docs/scaling.md): an asynchronous insert waits in a queue no process
// list shows.
func snapshotWatermark(ctx context.Context, conn driver.Conn, opts Options) (until, wm time.Time, err error) {
	qid := fmt.Sprintf("transform-snapshot-%d", time.Now().UnixNano())
	var elapsed float64
	var inserts uint64
	if err := conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithQueryID(qid)), sqlSnapshot, clickhouse.Named("qid", qid)).Scan(&until, &elapsed, &inserts); err != nil {
		return until, wm, fmt.Errorf("read watermark (server clock, running inserts): %w", err)
	}
	until = until.UTC()
	if opts.Cluster != "" {
		e, err := syncCluster(ctx, conn, opts, qid)
		if err != nil {
			return until, wm, err
		}
		elapsed = math.Max(elapsed, e)
	}
	back := time.Duration(math.Ceil(elapsed))*time.Second + time.Second + opts.Overlap
	return until, until.Add(-back), nil
}

// Watermark returns the watermark a refresh with opts started now would
// record: the refresh after it reads again every row stamped at or after
// it (see snapshotWatermark). A benchmark that wants each refresh to
// read only the rows written since the last one waits until the
// watermark has passed the newest row.
func Watermark(ctx context.Context, conn driver.Conn, opts Options) (time.Time, error) {
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	_, wm, err := snapshotWatermark(ctx, conn, opts)
	return wm, err
}

// syncCluster reads the longest running INSERT on every server of the
// cluster, then syncs every replica of the typed tables; see
// snapshotWatermark.
func syncCluster(ctx context.Context, conn driver.Conn, opts Options, qid string) (float64, error) {
	if opts.Dial == nil {
		return 0, fmt.Errorf("transform: Options.Cluster needs Options.Dial")
	}
	shards, err := migrations.ClusterServers(ctx, conn, opts.Cluster)
	if err != nil {
		return 0, fmt.Errorf("transform: %w", err)
	}
	var hosts []string
	for _, reps := range shards {
		for _, h := range reps {
			if !slices.Contains(hosts, h) { // a server may serve several shards
				hosts = append(hosts, h)
			}
		}
	}
	conns := make([]driver.Conn, len(hosts))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var elapsed float64
	for i, h := range hosts {
		if conns[i], err = opts.Dial(ctx, h); err != nil {
			return 0, fmt.Errorf("transform: connect to %s of cluster %s: %w", h, opts.Cluster, err)
		}
		var e float64
		var n uint64
		var now time.Time
		if err := conns[i].QueryRow(ctx, sqlSnapshot, clickhouse.Named("qid", qid)).Scan(&now, &e, &n); err != nil {
			return 0, fmt.Errorf("transform: running inserts on %s: %w", h, err)
		}
		elapsed = math.Max(elapsed, e)
	}
	local := make([]string, len(sourceTables))
	for i, t := range sourceTables {
		local[i] = t + "_local"
	}
	for i, h := range hosts {
		tables, err := queryStrings(ctx, conns[i], "replicated tables on "+h,
			"SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE 'Replicated%' AND has(@names, name) ORDER BY name",
			clickhouse.Named("names", local))
		if err != nil {
			return 0, err
		}
		for _, t := range tables {
			if err := conns[i].Exec(ctx, "SYSTEM SYNC REPLICA "+t); err != nil {
				return 0, fmt.Errorf("transform: sync replica %s on %s: %w", t, h, err)
			}
		}
	}
	return elapsed, nil
}

type stateRow struct {
	model, version string
	watermark      time.Time
	updatedAt      time.Time // zero: the client's clock when written
}

func readState(ctx context.Context, conn driver.Conn) (map[string]stateRow, error) {
	rows, err := conn.Query(ctx, "SELECT model, argMax(version, updated_at), argMax(watermark, updated_at) FROM transform_state GROUP BY model")
	if err != nil {
		return nil, fmt.Errorf("read transform_state: %w", err)
	}
	defer rows.Close()
	out := map[string]stateRow{}
	for rows.Next() {
		var r stateRow
		if err := rows.Scan(&r.model, &r.version, &r.watermark); err != nil {
			return nil, fmt.Errorf("read transform_state: %w", err)
		}
		out[r.model] = r
	}
	return out, rows.Err()
}

func writeState(ctx context.Context, conn driver.Conn, rows []stateRow) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO transform_state (model, version, watermark, updated_at)")
	if err != nil {
		return fmt.Errorf("write transform_state: %w", err)
	}
	defer b.Close()
	now := time.Now().UTC().Truncate(time.Second)
	for _, r := range rows {
		at := now
		if !r.updatedAt.IsZero() {
			at = r.updatedAt
		}
		if err := b.Append(r.model, r.version, r.watermark, at); err != nil {
			return fmt.Errorf("write transform_state: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write transform_state: %w", err)
	}
	return nil
}

func writeRuns(ctx context.Context, conn driver.Conn, rep Report) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO transform_runs (run_id, started_at, table_name, mode, duration_ms, rows, touched)")
	if err != nil {
		return fmt.Errorf("write transform_runs: %w", err)
	}
	defer b.Close()
	var total uint64
	for _, t := range rep.Tables {
		total += t.Rows
		if err := b.Append(rep.RunID, rep.Started, t.Table, t.Mode, uint64(t.Duration.Milliseconds()), t.Rows, t.Touched); err != nil {
			return fmt.Errorf("write transform_runs: %w", err)
		}
	}
	if err := b.Append(rep.RunID, rep.Started, "*", rep.Mode, uint64(rep.Duration.Milliseconds()), total, uint64(0)); err != nil {
		return fmt.Errorf("write transform_runs: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write transform_runs: %w", err)
	}
	return nil
}
