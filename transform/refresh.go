// Package transform builds the analyst contract tables (findings,
// deal_facts, deployment_facts, ticket_facts, department_scorecard,
// impact_stats) from the typed event tables written by ingest, and keeps
// them fresh.
//
// Every table is rebuilt into <table>_next and swapped in with
// ALTER TABLE ... REPLACE PARTITION tuple() FROM <table>_next, which swaps
// the table's parts atomically on ClickHouse 18.16 and current releases:
// readers see the old rows or the new rows, never a half-built table. A
// refresh after the first is incremental: only entities whose events (or
// whose joined catalog, review, gate or incident events) arrived since the
// watermark are recomputed; the rest are copied. A change of a model's SQL
// or of the SLA policy rebuilds that model in full.
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
	"math"
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
	// SLA derives sla_due_at when an event does not carry it. Zero value:
	// schemas.DefaultSLAPolicy.
	SLA schemas.SLAPolicy
	// Full forces a full rebuild of every table.
	Full bool
	// Overlap moves the watermark this far below the server clock at the
	// start of a run. On one server it only re-reads a few rows; on a
	// cluster it must exceed the clock skew between the servers (rows are
	// stamped by the server that writes them). Default DefaultOverlap.
	Overlap time.Duration
	// NoWait makes Refresh return at once, with an error wrapping
	// migrations.ErrLeaseHeld that names the holder, when another refresh
	// of the database is running; by default it waits for it.
	NoWait bool
	// Stats configures impact_stats.
	Stats StatsOptions
	// Logger receives one line per table and run; nil means slog.Default().
	Logger *slog.Logger
}

// TableReport is the outcome of one table's refresh.
type TableReport struct {
	Table    string
	Mode     string // Full or Incremental
	Rows     uint64 // rows after the refresh
	Touched  uint64 // entities recomputed (incremental only)
	Duration time.Duration
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

// sourceTables are the typed tables the models read.
var sourceTables = []string{
	"finding_events", "gate_events", "incident_events", "policy_exception_events", "review_events",
	"vendor_assessment_events", "deployment_events", "opportunity_events", "ticket_events", "service_events",
}

// Refresh brings every analyst contract table up to date with the typed
// tables in conn's database and records the run in transform_runs. It
// holds the database's transform lease for the run: a second Refresh (in
// this process, another one or on another host) waits until the first is
// done, or with Options.NoWait returns an error naming the holder.
func Refresh(ctx context.Context, conn driver.Conn, opts Options) (Report, error) {
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

func refresh(ctx context.Context, conn driver.Conn, opts Options, log *slog.Logger) (Report, error) {
	if opts.SLA == (schemas.SLAPolicy{}) {
		opts.SLA = schemas.DefaultSLAPolicy
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	start := time.Now()
	rep := Report{RunID: fmt.Sprintf("%d", start.UnixNano()), Started: start.UTC().Truncate(time.Second), AsOf: opts.AsOf, Mode: Incremental}
	if rep.AsOf.IsZero() {
		rep.AsOf = start
	}
	rep.AsOf = rep.AsOf.UTC().Truncate(time.Second)

	if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
		return rep, err
	}
	state, err := readState(ctx, conn)
	if err != nil {
		return rep, err
	}
	until, wm, err := snapshotWatermark(ctx, conn, opts.Overlap)
	if err != nil {
		return rep, err
	}
	rep.Watermark = wm
	prev, havePrev := state["*"]
	since := prev.watermark
	if since.Unix() < 0 {
		since = time.Unix(0, 0)
	}

	p := params{
		"asof":         rep.AsOf.Unix(),
		"since":        since.Unix(),
		"until":        until.Unix(),
		"sla_critical": slaSeconds(opts.SLA, "critical"),
		"sla_high":     slaSeconds(opts.SLA, "high"),
		"sla_medium":   slaSeconds(opts.SLA, "medium"),
		"sla_low":      slaSeconds(opts.SLA, "low"),
		"sla_info":     slaSeconds(opts.SLA, "info"),
	}
	policy := fmt.Sprintf("%s/%d/%d/%d/%d/%d", opts.SLA.Version, slaSeconds(opts.SLA, "critical"), slaSeconds(opts.SLA, "high"),
		slaSeconds(opts.SLA, "medium"), slaSeconds(opts.SLA, "low"), slaSeconds(opts.SLA, "info"))

	// Keys of every model go to one transform_keys, told apart by the
	// model column, so it is emptied once and the entity models (which
	// read only the typed tables and their own live table) are built
	// concurrently: while one waits on an INSERT ... SELECT the server
	// runs another's, and their per-table statement overheads overlap.
	// department_scorecard reads the fact tables, so it comes after them.
	if err := conn.Exec(ctx, "TRUNCATE TABLE transform_keys"); err != nil {
		return rep, fmt.Errorf("empty transform_keys: %w", err)
	}
	build := func(ctx context.Context, m model) (TableReport, error) {
		t0 := time.Now()
		v := m.version(policy)
		exists, err := tableExists(ctx, conn, m.name)
		if err != nil {
			return TableReport{}, err
		}
		mode := Incremental
		if opts.Full || !havePrev || !exists || m.key == "" || state[m.name].version != v {
			mode = Full
		}
		tr := TableReport{Table: m.name, Mode: mode}
		if err := buildModel(ctx, conn, m, mode, exists, exists && state[m.name].version == v, p, &tr); err != nil {
			return tr, err
		}
		if tr.Rows, err = countRows(ctx, conn, m.name); err != nil {
			return tr, err
		}
		tr.Duration = time.Since(t0)
		log.Info("transform table", "table", m.name, "mode", mode, "rows", tr.Rows, "touched", tr.Touched, "duration", tr.Duration.Round(time.Millisecond))
		return tr, nil
	}
	reports := make([]TableReport, len(sqlModels))
	errs := make([]error, len(sqlModels))
	bctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, m := range sqlModels {
		if m.key == "" {
			continue
		}
		run := func() {
			if reports[i], errs[i] = build(bctx, m); errs[i] != nil {
				cancel()
			}
		}
		// A full build is CPU-bound on the server, which already spreads
		// each query over its cores: concurrent full builds only compete
		// (the 10M-event benchmark's full refresh got slower), so only
		// incremental refreshes build concurrently.
		if opts.Full || !havePrev {
			run()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
	cancel()
	if err := firstError(errs); err != nil {
		return rep, err
	}
	for i, m := range sqlModels {
		if m.key != "" {
			continue
		}
		if reports[i], err = build(ctx, m); err != nil {
			return rep, err
		}
	}
	var versions []stateRow
	for i, m := range sqlModels {
		if reports[i].Mode == Full && m.key != "" {
			rep.Mode = Full
		}
		rep.Tables = append(rep.Tables, reports[i])
		versions = append(versions, stateRow{model: m.name, version: m.version(policy)})
	}

	t0 := time.Now()
	st, err := refreshStats(ctx, conn, opts.Stats, rep.AsOf)
	if err != nil {
		return rep, err
	}
	st.Duration = time.Since(t0)
	rep.Tables = append(rep.Tables, st)
	log.Info("transform table", "table", StatsTable, "mode", Full, "rows", st.Rows, "duration", st.Duration.Round(time.Millisecond))

	// Each registered department's slice, from the tables just built.
	sl, err := refreshDepartments(ctx, conn, log)
	if err != nil {
		return rep, err
	}
	if sl.Table != "" {
		rep.Tables = append(rep.Tables, sl)
	}

	rep.Duration = time.Since(start)
	versions = append(versions, stateRow{model: "*", version: "", watermark: wm})
	if err := writeState(ctx, conn, versions); err != nil {
		return rep, err
	}
	if err := writeRuns(ctx, conn, rep); err != nil {
		return rep, err
	}
	log.Info("transform refresh", "mode", rep.Mode, "duration", rep.Duration.Round(time.Millisecond), "watermark", wm)
	return rep, nil
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

func slaSeconds(p schemas.SLAPolicy, severity string) int64 {
	d, ok := p.For(severity)
	if !ok {
		return 0
	}
	return int64(d / time.Second)
}

// buildModel runs the model's steps and counts the touched entities.
func buildModel(ctx context.Context, conn driver.Conn, m model, mode string, exists, sameShape bool, p params, tr *TableReport) error {
	stmts, err := modelSteps(m, mode, p)
	if err != nil {
		return err
	}
	for i, q := range stmts {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("refresh %s step %d: %w", m.name, i+1, err)
		}
	}
	n, err := countRows(ctx, conn, m.name+"_next")
	if err != nil {
		return err
	}
	for _, q := range swapSteps(m.name, exists, sameShape, n > 0) {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("swap %s: %w", m.name, err)
		}
	}
	if mode == Incremental {
		if err := conn.QueryRow(ctx, "SELECT uniqExact(key) FROM transform_keys WHERE model = @model",
			clickhouse.Named("model", m.name)).Scan(&tr.Touched); err != nil {
			return fmt.Errorf("count touched %s: %w", m.name, err)
		}
	}
	return nil
}

// modelSteps returns the statements that fill <name>_next: in full, or by
// copying unchanged entities and recomputing the touched ones.
func modelSteps(m model, mode string, p params) ([]string, error) {
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
	d := tmplData{Table: next, Model: m.name, Key: m.key, Source: m.name, Incremental: mode == Incremental}
	if mode == Incremental {
		if err := add(".touch.sql", tmplData{}); err != nil {
			return nil, err
		}
		cols, err := m.columns()
		if err != nil {
			return nil, err
		}
		d.Columns = strings.Join(cols, ", ")
		copyText, _ := sqlFS.ReadFile("sql/copy.sql")
		stmts, err := statements("copy.sql", string(copyText), d)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	if err := add(".sql", d); err != nil {
		return nil, err
	}
	return out, nil
}

// swapSteps make <name>_next the live table. With the same DDL, REPLACE
// PARTITION swaps all parts in one step (the table is unpartitioned, so
// its only partition is tuple()) and a reader's query keeps the parts it
// started with. Otherwise (first build, changed DDL) the tables are
// renamed. Current ClickHouse refuses to REPLACE from an empty source, so
// an empty result truncates the live table instead.
func swapSteps(name string, exists, sameShape, nonEmpty bool) []string {
	next, old := name+"_next", name+"_old"
	switch {
	case exists && sameShape && !nonEmpty:
		return []string{"TRUNCATE TABLE " + name, "DROP TABLE " + next}
	case exists && sameShape:
		return []string{fmt.Sprintf("ALTER TABLE %s REPLACE PARTITION tuple() FROM %s", name, next), "DROP TABLE " + next}
	case exists:
		return []string{"DROP TABLE IF EXISTS " + old, fmt.Sprintf("RENAME TABLE %s TO %s, %s TO %s", name, old, next, name), "DROP TABLE " + old}
	default:
		return []string{fmt.Sprintf("RENAME TABLE %s TO %s", next, name)}
	}
}

func execFile(ctx context.Context, conn driver.Conn, file string, d tmplData) error {
	b, err := sqlFS.ReadFile("sql/" + file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	stmts, err := statements(file, string(b), d)
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

func tableExists(ctx context.Context, conn driver.Conn, name string) (bool, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = @name",
		clickhouse.Named("name", name)).Scan(&n); err != nil {
		return false, fmt.Errorf("look up table %s: %w", name, err)
	}
	return n > 0, nil
}

func countRows(ctx context.Context, conn driver.Conn, name string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", name, err)
	}
	return n, nil
}

func columns(ctx context.Context, conn driver.Conn, table string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = @table",
		clickhouse.Named("table", table))
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
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
func snapshotWatermark(ctx context.Context, conn driver.Conn, overlap time.Duration) (until, wm time.Time, err error) {
	qid := fmt.Sprintf("transform-snapshot-%d", time.Now().UnixNano())
	var elapsed float64
	var inserts uint64
	if err := conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithQueryID(qid)), sqlSnapshot, clickhouse.Named("qid", qid)).Scan(&until, &elapsed, &inserts); err != nil {
		return until, wm, fmt.Errorf("read watermark (server clock, running inserts): %w", err)
	}
	until = until.UTC()
	back := time.Duration(math.Ceil(elapsed))*time.Second + time.Second + overlap
	return until, until.Add(-back), nil
}

type stateRow struct {
	model, version string
	watermark      time.Time
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
		if err := b.Append(r.model, r.version, r.watermark, now); err != nil {
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
