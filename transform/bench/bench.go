// Package bench measures transform refreshes at volume: it simulates an
// organisation (internal/simulate) of about Options.Events events, bulk
// loads them into the typed tables of a ClickHouse server (a local one it
// starts when none is configured), then times a full refresh and an
// incremental refresh after the last 1% of the events arrive.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/simulate"
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
	// IncrementalShare is the share of the events loaded after the full
	// refresh, default 0.01.
	IncrementalShare float64
	// ClickHouse is the server to use; an empty Addr starts a local one.
	ClickHouse config.ClickHouse
	Logger     *slog.Logger
	// CPUProfile, when set, receives a Go CPU profile of the two refreshes
	// (the client side: impact_stats, batching).
	CPUProfile io.Writer
}

// Result holds the measured figures (JSON keys are stable: scripts read
// them).
type Result struct {
	Events             int                `json:"events"`
	LoadedRows         int                `json:"loaded_rows"`
	LoadSeconds        float64            `json:"load_seconds"`
	LoadRowsPerSec     float64            `json:"load_rows_per_sec"`
	FullSeconds        float64            `json:"full_refresh_seconds"`
	IncrementalEvents  int                `json:"incremental_events"`
	IncrementalSeconds float64            `json:"incremental_refresh_seconds"`
	FullTables         map[string]float64 `json:"full_table_seconds"`
	IncrementalTables  map[string]float64 `json:"incremental_table_seconds"`
	Touched            map[string]uint64  `json:"incremental_touched"`
	Rows               map[string]uint64  `json:"rows"`
	ServerVersion      string             `json:"server_version"`
	CPUs               int                `json:"cpus"`
	// CPU seconds spent by the ClickHouse server (local server only) and
	// by this process during each refresh, and the 1-minute load average
	// when it ended: on a shared machine the wall time overstates.
	FullServerCPU        float64 `json:"full_refresh_server_cpu_seconds"`
	FullClientCPU        float64 `json:"full_refresh_client_cpu_seconds"`
	IncrementalServerCPU float64 `json:"incremental_refresh_server_cpu_seconds"`
	IncrementalClientCPU float64 `json:"incremental_refresh_client_cpu_seconds"`
	LoadAverage          float64 `json:"load_average_1m"`
}

// Run performs the benchmark.
func Run(ctx context.Context, opts Options) (Result, error) {
	var res Result
	if opts.Events <= 0 {
		opts.Events = 1_000_000
	}
	if opts.IncrementalShare <= 0 || opts.IncrementalShare >= 1 {
		opts.IncrementalShare = 0.01
	}
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
		pid = serverPID(srv.Dir())
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
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer conn.Close()
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

	// Load: every line but the last IncrementalShare, stamped one second
	// apart like a steady ingest; the tail waits in memory.
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	keep := int(float64(opts.Events) * opts.IncrementalShare)
	var tail [][]byte
	loader := &bulk.Loader{Conn: conn, IngestedAt: t0, Step: time.Second}
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
		return res, fmt.Errorf("bench: simulate: %w", err)
	}
	if err := loader.Flush(ctx); err != nil {
		return res, err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	res.LoadedRows = loader.Stats().Rows
	res.LoadRowsPerSec = float64(res.LoadedRows) / res.LoadSeconds
	log.Info("bench transform: loaded", "rows", res.LoadedRows, "seconds", res.LoadSeconds)

	// One server: the watermark needs no clock-skew margin. The rows a
	// refresh re-reads are those written in the last overlap (plus the
	// lease's settle second) before it started; wait that out, so that the
	// incremental refresh measures the new share alone.
	ropts := transform.Options{AsOf: truth.End, Logger: log, Overlap: time.Second}
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(ropts.Overlap + 2*time.Second):
	}
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return res, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	s0, c0 := processCPU(pid), selfCPU()
	full, err := transform.Refresh(ctx, conn, ropts)
	if err != nil {
		return res, err
	}
	res.FullServerCPU, res.FullClientCPU = processCPU(pid)-s0, selfCPU()-c0
	res.FullSeconds = full.Duration.Seconds()
	res.FullTables = tableSeconds(full)

	inc := &bulk.Loader{Conn: conn, IngestedAt: full.Watermark.Add(time.Hour), Step: time.Second}
	for _, v := range tail {
		if err := inc.Add(ctx, v); err != nil {
			return res, err
		}
	}
	if err := inc.Flush(ctx); err != nil {
		return res, err
	}
	res.IncrementalEvents = len(tail)
	s0, c0 = processCPU(pid), selfCPU()
	rep, err := transform.Refresh(ctx, conn, ropts)
	if err != nil {
		return res, err
	}
	res.IncrementalServerCPU, res.IncrementalClientCPU = processCPU(pid)-s0, selfCPU()-c0
	res.LoadAverage = loadAverage()
	res.IncrementalSeconds = rep.Duration.Seconds()
	res.IncrementalTables = tableSeconds(rep)
	res.Touched, res.Rows = map[string]uint64{}, map[string]uint64{}
	for _, t := range rep.Tables {
		res.Touched[t.Table] = t.Touched
		res.Rows[t.Table] = t.Rows
	}
	return res, nil
}

func tableSeconds(r transform.Report) map[string]float64 {
	out := map[string]float64{}
	for _, t := range r.Tables {
		out[t.Table] = t.Duration.Seconds()
	}
	return out
}
