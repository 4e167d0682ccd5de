package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/ingest"
)

func init() {
	var (
		icfg       ingest.Config
		suffix     string
		budget     int64
		cpuprofile string
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
			return ingest.Run(cmd.Context(), icfg)
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
	f.DurationVar(&icfg.ShutdownTimeout, "shutdown-timeout", ingest.DefaultShutdown, "deadline for the final flush and commit on SIGINT/SIGTERM")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile to this file (benchmarks)")
	rootCmd.AddCommand(cmd)
}
