// Package bench measures transform refreshes at volume: it simulates an
// organisation (internal/simulate) of about Options.Events events, bulk
// loads them into the typed tables of a ClickHouse server (a local one it
// starts when none is configured), then times a full refresh and, three
// times over, an incremental refresh after the next 1% of the events
// arrive. Besides wall time it reports the CPU the server spent on each
// refresh's queries (from system.query_log, so other load on the machine
// does not count), the client's CPU, the load averages, and per table the
// entities recomputed, rows written and partitions rebuilt or kept.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/bulk"
)

// eventsPerScale is about how many lines simulate produces at scale 1 over
// 365 days; it turns Options.Events into a scale.
const eventsPerScale = 180_000

// Options configure Run. The zero value benchmarks 1 million events on a
// local server.
type Options struct {
	Events int    // target number of events, default 1,000,000
	Seed   uint64 // simulation seed
	// IncrementalShare is the share of the events loaded before each
	// incremental refresh, default 0.01.
	IncrementalShare float64
	// Rounds is the number of incremental refreshes, each after another
	// IncrementalShare of the events; default 3.
	Rounds int
	// ClickHouse is the server to use; an empty Addr starts a local one.
	// On a server of its own the query log holds only the benchmark's
	// queries; on a shared one, others' queries in the same seconds count
	// too.
	ClickHouse config.ClickHouse
	Logger     *slog.Logger
	// ReuseLoad keeps the loaded typed tables and the held-back events in
	// the database <database>_load and, when a later run has the same
	// Events, Seed, IncrementalShare and Rounds, restores them from there
	// (hard links) instead of simulating and loading again: for iterating
	// on the refresh. The refreshes measured are the same.
	ReuseLoad bool
	// CPUProfile, when set, receives a Go CPU profile of the refreshes
	// (the client side: impact_stats, batching).
	CPUProfile io.Writer
}

// Refresh holds one refresh's figures.
type Refresh struct {
	Mode      string  `json:"mode"`
	NewEvents int     `json:"new_events"` // events loaded since the previous refresh
	Seconds   float64 `json:"seconds"`    // wall time
	// ServerCPU is the user+system CPU of the server threads that ran the
	// refresh's queries (system.query_log), independent of other load.
	ServerCPU float64 `json:"server_cpu_seconds"`
	// ServerSystemCPU is the system (kernel) part of ServerCPU: page faults
	// and file operations, which vary from one run to the next far more
	// than the user part on some machines (docs/transform.md, eighth pass).
	ServerSystemCPU float64 `json:"server_system_cpu_seconds"`
	// ServerProcessCPU is the whole server process's CPU over the refresh
	// (local server only; includes background merges).
	ServerProcessCPU float64                `json:"server_process_cpu_seconds"`
	ClientCPU        float64                `json:"client_cpu_seconds"`
	LoadAverage      [3]float64             `json:"load_average"` // 1, 5, 15 minutes, at the end
	Tables           map[string]TableResult `json:"tables"`
}

// TableResult is one table's part of a refresh.
type TableResult struct {
	// StartSeconds is when the table's build started, from the start of
	// the refresh.
	StartSeconds float64 `json:"start_seconds"`
	Seconds      float64 `json:"seconds"`
	// WaitedSeconds is, for impact_stats, the part of Seconds spent
	// waiting for the tables it reads to be built.
	WaitedSeconds     float64 `json:"waited_seconds,omitempty"`
	Rows              uint64  `json:"rows"`
	Touched           uint64  `json:"touched"` // entities recomputed (incremental)
	Written           uint64  `json:"rows_written"`
	PartitionsRebuilt int     `json:"partitions_rebuilt"`
	PartitionsKept    int     `json:"partitions_kept"`
	// FiguresReused is impact_stats' periods of figures reused from the
	// last refresh (transform.TableReport.FiguresReused).
	FiguresReused int `json:"figures_reused,omitempty"`
	// DeltaRows and Folded are a layered table's (findings): the rows of
	// its delta after the refresh, and whether the refresh folded the
	// delta into a new base.
	DeltaRows uint64 `json:"delta_rows,omitempty"`
	Folded    bool   `json:"folded,omitempty"`
}

// Result holds the measured figures (JSON keys are stable: scripts read
// them; the flat incremental_* keys are the first incremental refresh).
type Result struct {
	Events             int                `json:"events"`
	LoadedRows         int                `json:"loaded_rows"`
	LoadSeconds        float64            `json:"load_seconds"`
	LoadRowsPerSec     float64            `json:"load_rows_per_sec"`
	LoadReused         bool               `json:"load_reused"` // restored from a kept load (Options.ReuseLoad): no load timed
	FullSeconds        float64            `json:"full_refresh_seconds"`
	IncrementalEvents  int                `json:"incremental_events"`
	IncrementalSeconds float64            `json:"incremental_refresh_seconds"`
	FullTables         map[string]float64 `json:"full_table_seconds"`
	IncrementalTables  map[string]float64 `json:"incremental_table_seconds"`
	Touched            map[string]uint64  `json:"incremental_touched"`
	Rows               map[string]uint64  `json:"rows"`
	ServerVersion      string             `json:"server_version"`
	CPUs               int                `json:"cpus"`
	// CPU seconds spent by the ClickHouse server process (local server
	// only) and by this process during the full and first incremental
	// refresh, and the 1-minute load average at the end.
	FullServerCPU        float64 `json:"full_refresh_server_cpu_seconds"`
	FullClientCPU        float64 `json:"full_refresh_client_cpu_seconds"`
	IncrementalServerCPU float64 `json:"incremental_refresh_server_cpu_seconds"`
	IncrementalClientCPU float64 `json:"incremental_refresh_client_cpu_seconds"`
	LoadAverage          float64 `json:"load_average_1m"`

	Full        Refresh   `json:"full"`
	Incremental []Refresh `json:"incremental"`
	// ServerCPURatio is each incremental refresh's query-log server CPU
	// divided by the full refresh's.
	ServerCPURatio []float64 `json:"incremental_to_full_server_cpu"`
}

// Validate names the first bad field. Zero values are the defaults; a
// negative value, or increments that add up to all the events, is an error.
func (o Options) Validate() error {
	switch {
	case o.Events < 0:
		return fmt.Errorf("transform bench options: Events %d is negative", o.Events)
	case o.Rounds < 0:
		return fmt.Errorf("transform bench options: Rounds %d is negative", o.Rounds)
	case !(o.IncrementalShare >= 0 && o.IncrementalShare < 1): // NaN too
		return fmt.Errorf("transform bench options: IncrementalShare %v is not in [0, 1)", o.IncrementalShare)
	}
	if d := o.withDefaults(); d.IncrementalShare*float64(d.Rounds) >= 1 {
		return fmt.Errorf("transform bench options: IncrementalShare %v times Rounds %d leaves nothing for the full refresh", d.IncrementalShare, d.Rounds)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Events == 0 {
		o.Events = 1_000_000
	}
	if o.IncrementalShare == 0 {
		o.IncrementalShare = 0.01
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	return o
}

// Run performs the benchmark.
func Run(ctx context.Context, opts Options) (Result, error) {
	var res Result
	if err := opts.Validate(); err != nil {
		return res, err
	}
	opts = opts.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	res.Events, res.CPUs = opts.Events, runtime.NumCPU()
	cc := opts.ClickHouse
	pid := 0
	if cc.Addr == "" {
		srv, err := chlocal.Start(ctx, chlocal.Options{})
		if err != nil {
			return res, fmt.Errorf("bench: start clickhouse: %w", err)
		}
		defer srv.Close()
		cc = srv.Config("impact_bench")
		pid = srv.PID()
	}
	if cc.Database == "" {
		cc.Database = "impact_bench"
	}
	if err := chconn.DropDatabase(ctx, cc); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	if err := chconn.EnsureDatabase(ctx, cc); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	conn, err := open(ctx, cc)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer conn.Close()
	ins, err := chconn.NewInserter(cc)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer ins.Close()
	if v, err := conn.ServerVersion(); err == nil {
		res.ServerVersion = v.String()
	}
	stmts, err := migrations.Statements(migrations.Options{Database: cc.DB()})
	if err != nil {
		return res, err
	}
	for _, q := range stmts {
		if err := conn.Exec(ctx, q); err != nil {
			return res, fmt.Errorf("bench: migrate: %w", err)
		}
	}

	var kept keptLoad
	reused := false
	if opts.ReuseLoad {
		if kept, reused, err = restoreLoad(ctx, conn, cc.DB(), opts); err != nil {
			return res, err
		}
	}
	if !reused {
		if kept, err = load(ctx, ins, opts, &res); err != nil {
			return res, err
		}
		if opts.ReuseLoad {
			if err := keepLoad(ctx, conn, cc.DB(), opts, kept); err != nil {
				return res, err
			}
		}
	} else {
		res.LoadedRows, res.LoadReused = kept.rows, true
	}
	tail := kept.tail
	log.Info("bench transform: loaded", "rows", res.LoadedRows, "seconds", res.LoadSeconds, "reused", reused)

	// One server: the watermark needs no clock-skew margin. One process
	// refreshing again and again, as impact transform's loop does, with
	// its cache of impact_stats' reads (transform.Cache).
	ropts := transform.Options{AsOf: kept.asOf, Logger: log, Overlap: time.Second, Cache: &transform.Cache{}}

	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return res, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	measure := func(newEvents int) (Refresh, transform.Report, error) {
		if err := settle(ctx, conn, ropts); err != nil {
			return Refresh{}, transform.Report{}, err
		}
		var from time.Time
		if err := conn.QueryRow(ctx, "SELECT now()").Scan(&from); err != nil {
			return Refresh{}, transform.Report{}, fmt.Errorf("bench: %w", err)
		}
		s0, c0 := processCPU(pid), selfCPU()
		rep, err := transform.Refresh(ctx, conn, ropts)
		if err != nil {
			return Refresh{}, rep, err
		}
		f := Refresh{Mode: rep.Mode, NewEvents: newEvents, Seconds: rep.Duration.Seconds(),
			ServerProcessCPU: processCPU(pid) - s0, ClientCPU: selfCPU() - c0, LoadAverage: loadAverages(),
			Tables: map[string]TableResult{}}
		if f.ServerCPU, f.ServerSystemCPU, err = queryLogCPU(ctx, conn, from, clientTag(cc)); err != nil {
			return f, rep, err
		}
		for _, t := range rep.Tables {
			f.Tables[t.Table] = TableResult{StartSeconds: t.Began.Seconds(), Seconds: t.Duration.Seconds(), WaitedSeconds: t.Waited.Seconds(), Rows: t.Rows, Touched: t.Touched, Written: t.Written,
				PartitionsRebuilt: t.Rebuilt, PartitionsKept: t.Kept, DeltaRows: t.Delta, Folded: t.Folded, FiguresReused: t.FiguresReused}
		}
		log.Info("bench transform: refresh", "mode", f.Mode, "seconds", f.Seconds, "server_cpu", f.ServerCPU, "load", f.LoadAverage[0])
		return f, rep, nil
	}
	full, rep, err := measure(0)
	if err != nil {
		return res, err
	}
	res.Full = full
	res.FullSeconds, res.FullTables = full.Seconds, tableSeconds(rep)
	res.FullServerCPU, res.FullClientCPU = full.ServerProcessCPU, full.ClientCPU

	chunk := len(tail) / opts.Rounds
	for r := range opts.Rounds {
		part := tail[r*chunk : (r+1)*chunk]
		if r == opts.Rounds-1 {
			part = tail[r*chunk:]
		}
		inc := &bulk.Loader{Inserter: ins, IngestedAt: rep.Watermark.Add(time.Hour), Step: time.Second}
		for _, v := range part {
			if err := inc.Add(ctx, v); err != nil {
				return res, err
			}
		}
		if err := inc.Flush(ctx); err != nil {
			return res, err
		}
		f, irep, err := measure(len(part))
		if err != nil {
			return res, err
		}
		res.Incremental = append(res.Incremental, f)
		ratio := 0.0
		if full.ServerCPU > 0 {
			ratio = f.ServerCPU / full.ServerCPU
		}
		res.ServerCPURatio = append(res.ServerCPURatio, ratio)
		if r == 0 {
			res.IncrementalEvents = len(part)
			res.IncrementalSeconds, res.IncrementalTables = f.Seconds, tableSeconds(irep)
			res.IncrementalServerCPU, res.IncrementalClientCPU = f.ServerProcessCPU, f.ClientCPU
			res.Touched, res.Rows = map[string]uint64{}, map[string]uint64{}
			for _, t := range irep.Tables {
				res.Touched[t.Table] = t.Touched
				res.Rows[t.Table] = t.Rows
			}
		}
	}
	res.LoadAverage = loadAverages()[0]
	return res, nil
}

// open connects like chconn.Open, naming the benchmark and its database
// in the client name the server logs (clientTag), so the query log tells
// this run's queries from those of another run or client on the server.
func open(ctx context.Context, cc config.ClickHouse) (driver.Conn, error) {
	opts, err := chconn.Options(cc)
	if err != nil {
		return nil, err
	}
	opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{Name: "impact-bench", Version: cc.DB()})
	// Every query is logged: set on the connection, not per query, where
	// the refresh's own settings (a statement's block sizes) replace a
	// caller's.
	if opts.Settings == nil {
		opts.Settings = clickhouse.Settings{}
	}
	opts.Settings["log_queries"] = 1
	// Not each query's threads (18.16 logs them whenever it logs queries):
	// the benchmark reads query_log alone, and query_thread_log cost the
	// server a part of some 90 files per flush, a few per refresh.
	opts.Settings["log_query_threads"] = 0
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cc.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to clickhouse %s: %w", cc.Addr, err)
	}
	return conn, nil
}

// clientTag is the part of the client name open adds.
func clientTag(cc config.ClickHouse) string { return "impact-bench/" + cc.DB() + " " }

// queryLogCPU sums the user and system CPU of this run's queries (client
// name containing tag) that started at or after from (server clock), from
// system.query_log, and returns it with its system part. 18.16 keeps
// ProfileEvents as two arrays, current releases as a map.
func queryLogCPU(ctx context.Context, conn driver.Conn, from time.Time, tag string) (total, system float64, err error) {
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return 0, 0, fmt.Errorf("bench: flush query log: %w", err)
	}
	const where = " FROM system.query_log WHERE type = 2 AND query_start_time >= @from AND position(client_name, @tag) > 0"
	args := []any{clickhouse.Named("from", from), clickhouse.Named("tag", tag)}
	var user, sys uint64
	err = conn.QueryRow(ctx, `SELECT
    sum(arraySum(arrayMap((n, v) -> if(n = 'UserTimeMicroseconds', v, 0), ProfileEvents.Names, ProfileEvents.Values))),
    sum(arraySum(arrayMap((n, v) -> if(n = 'SystemTimeMicroseconds', v, 0), ProfileEvents.Names, ProfileEvents.Values)))`+where,
		args...).Scan(&user, &sys)
	if err != nil {
		err = conn.QueryRow(ctx, "SELECT sum(ProfileEvents['UserTimeMicroseconds']), sum(ProfileEvents['SystemTimeMicroseconds'])"+where,
			args...).Scan(&user, &sys)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("bench: server CPU from the query log: %w", err)
	}
	return float64(user+sys) / 1e6, float64(sys) / 1e6, nil
}

// settle waits until a refresh started now would record a watermark
// past the newest typed row, so that the refresh after it reads only the
// rows written later: each refresh then measures its new share alone, as
// under a steady ingest. The watermark lies the overlap below the server
// clock, and further below while any INSERT runs on the server (another
// database's load, in tests that share one), so a fixed wait is not
// enough. The margin covers an INSERT that begins just before the
// refresh reads the watermark.
func settle(ctx context.Context, conn driver.Conn, ropts transform.Options) error {
	var newest time.Time
	for _, t := range schemas.Tables() {
		var at time.Time
		if err := conn.QueryRow(ctx, "SELECT max(inserted_at) FROM "+t).Scan(&at); err != nil {
			return fmt.Errorf("bench: newest row of %s: %w", t, err)
		}
		if at.After(newest) {
			newest = at
		}
	}
	const margin = 2 * time.Second
	deadline := time.Now().Add(5 * time.Minute)
	for {
		wm, err := transform.Watermark(ctx, conn, ropts)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if wm.After(newest.Add(margin)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the watermark (%s) did not pass the newest row (%s) within 5 minutes: INSERTs keep running on the server", wm, newest)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func tableSeconds(r transform.Report) map[string]float64 {
	out := map[string]float64{}
	for _, t := range r.Tables {
		out[t.Table] = t.Duration.Seconds()
	}
	return out
}

// load simulates the events and bulk loads every line but the last Rounds
// x IncrementalShare, stamped one second apart like a steady ingest; the
// tail is returned, to be loaded before the incremental refreshes.
func load(ctx context.Context, ins *chconn.Inserter, opts Options, res *Result) (keptLoad, error) {
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	keep := int(float64(opts.Events)*opts.IncrementalShare) * opts.Rounds
	var tail [][]byte
	loader := &bulk.Loader{Inserter: ins, IngestedAt: t0, Step: time.Second}
	start := time.Now()
	scale := float64(opts.Events) / eventsPerScale
	truth, err := simulate.Run(ctx, simulate.Options{Seed: opts.Seed, Scale: scale}, func(r simulate.Record) error {
		tail = append(tail, r.Value)
		if len(tail) > keep {
			v := tail[0]
			tail = tail[1:]
			return loader.Add(ctx, v)
		}
		return nil
	})
	if err != nil {
		return keptLoad{}, fmt.Errorf("bench: simulate: %w", err)
	}
	if err := loader.Flush(ctx); err != nil {
		return keptLoad{}, err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	res.LoadedRows = loader.Stats().Rows
	res.LoadRowsPerSec = float64(res.LoadedRows) / res.LoadSeconds
	return keptLoad{asOf: truth.End, rows: res.LoadedRows, tail: tail}, nil
}
