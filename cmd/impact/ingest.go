package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/rss"
	"github.com/secimpact/impact/schemas"
)

func init() {
	var (
		icfg       ingest.Config
		suffix     string
		budget     int64
		earliest   string
		cpuprofile string
		memprofile string
	)
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Consume the source topics into ClickHouse (consumer group, DLQ, exactly-once views)",
		Long: `ingest is a member of the consumer group (default impact-ingest) over the five
source topics. Valid events go to events_raw and their typed table, invalid ones
to the dead-letter topic and ingest_rejects. Offsets are committed only after the
rows are in ClickHouse; ClickHouse outages are retried, never fatal.

With --drain it exits 0 once the group has committed, on every partition of every
source topic, the end offset the partition had when ingest started.

Health and metrics: /healthz, /readyz and /metrics on --listen.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			icfg.Kafka = cfg.Kafka
			icfg.ClickHouse = cfg.ClickHouse
			if suffix != "" {
				icfg.Kafka.Topics = icfg.Kafka.Topics.WithSuffix(suffix)
			}
			icfg.MemoryBudget = budget << 20
			if earliest != "" {
				t, err := parseDate(earliest)
				if err != nil {
					return fmt.Errorf("ingest: --earliest-event-time: %w", err)
				}
				icfg.TimeWindow.Earliest = t
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				// Collect harder near the limit rather than let the heap double.
				debug.SetMemoryLimit(ingest.MemoryLimit(icfg.MemoryBudget))
			}
			icfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			if memprofile != "" {
				stop := peakHeapProfile(memprofile)
				defer stop()
			}
			err := ingest.Run(cmd.Context(), icfg)
			if peak, perr := rss.Peak(); perr == nil {
				icfg.Logger.Info("ingest exiting", "peak_rss_bytes", peak)
			}
			return err
		},
	}
	addClickHouseFlags(cmd)
	addKafkaFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&icfg.Drain, "drain", false, "exit 0 once every partition is caught up to its end offset at start and committed")
	f.StringVar(&icfg.GroupID, "group", ingest.DefaultGroupID, "consumer group id")
	f.StringVar(&icfg.Listen, "listen", ingest.DefaultListen, "address of /healthz, /readyz, /metrics (empty: none)")
	f.BoolVar(&icfg.NoMigrate, "no-migrate", false, "do not apply ClickHouse migrations at start")
	f.StringVar(&suffix, "topic-suffix", os.Getenv("IMPACT_TOPIC_SUFFIX"), "suffix appended to every topic name (env IMPACT_TOPIC_SUFFIX; tests, staging)")
	f.DurationVar(&icfg.FlushAge, "flush-age", ingest.DefaultFlushAge, "longest time a row waits in a batch")
	f.IntVar(&icfg.BatchRows, "batch-rows", ingest.DefaultBatchRows, "rows per table that trigger a flush")
	f.Int64Var(&icfg.BatchBytes, "batch-bytes", ingest.DefaultBatchBytes, "message bytes per table that trigger a flush")
	f.Int64Var(&budget, "memory-budget-mib", ingest.DefaultMemoryBudget>>20, "MiB of fetched messages held before fetching waits")
	f.StringVar(&earliest, "earliest-event-time", schemas.DefaultEarliest.Format(time.DateOnly), "reject events whose time is before this date (YYYY-MM-DD or RFC 3339)")
	f.DurationVar(&icfg.TimeWindow.MaxSkew, "max-clock-skew", schemas.DefaultMaxSkew, "reject events whose time is more than this after the ingester's clock")
	f.DurationVar(&icfg.StallTimeout, "stall-timeout", ingest.DefaultStallTimeout, "/readyz fails when a partition has lag and no commit for this long")
	f.DurationVar(&icfg.ShutdownTimeout, "shutdown-timeout", ingest.DefaultShutdown, "deadline for the final flush and commit on SIGINT/SIGTERM")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile to this file (benchmarks)")
	f.StringVar(&memprofile, "memprofile", "", "write a heap profile taken at the peak of the heap to this file (benchmarks)")
	rootCmd.AddCommand(cmd)
}

// peakHeapProfile samples the heap twice a second and writes a heap
// profile whenever it reaches a new peak, so the profile shows what the
// memory is at its worst, not after the final flush.
func peakHeapProfile(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc <= peak {
				continue
			}
			peak = ms.HeapAlloc
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}()
	return func() { close(done); <-finished }
}
