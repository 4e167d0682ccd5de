package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/ingest/bench"
)

func init() {
	benchCmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks",
	}
	var (
		opts       bench.Options
		asJSON     bool
		cpuprofile string
		budget     int64
		verbose    bool
		memprofile string
		childArgs  []string
	)
	ingestCmd := &cobra.Command{
		Use:   "ingest",
		Short: "Measure raw Kafka fetch, raw ClickHouse insert and end-to-end ingest rates on the same events",
		Long: `bench ingest generates --events valid events, produces them, then measures on the
same events: the raw Kafka fetch rate (partition readers, no processing), the raw
ClickHouse insert rate of their rows (no Kafka), and the end-to-end rate of
'impact ingest --drain' on a fresh group, run as a child process whose peak RSS is
reported. With no Kafka/ClickHouse configured it starts an embedded Kafka and a
local ClickHouse server itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find own binary: %w", err)
			}
			opts.Exe = exe
			opts.Kafka = cfg.Kafka
			opts.ClickHouse = cfg.ClickHouse
			if cpuprofile != "" {
				opts.IngestArgs = append(opts.IngestArgs, "--cpuprofile", cpuprofile)
			}
			if memprofile != "" {
				opts.IngestArgs = append(opts.IngestArgs, "--memprofile", memprofile)
			}
			if budget > 0 {
				opts.IngestArgs = append(opts.IngestArgs, "--memory-budget-mib", strconv.FormatInt(budget, 10))
			}
			opts.IngestArgs = append(opts.IngestArgs, childArgs...)
			opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
			if verbose {
				opts.ChildLog = os.Stderr
			}
			res, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res) // bench_gateway.go
			}
			fmt.Fprintf(out, "events                 %d (%s Kafka, %d partitions per topic, %d CPUs)\n", res.Events, res.KafkaMode, res.Partitions, res.CPUs)
			fmt.Fprintf(out, "kafka raw fetch        %10.0f events/s\n", res.KafkaRawEPS)
			fmt.Fprintf(out, "clickhouse raw insert  %10.0f events/s\n", res.ClickHouseRawEPS)
			fmt.Fprintf(out, "pipeline (ingest)      %10.0f events/s  (active %.2fs, wall %.2fs, ingester CPU %.2fs)\n", res.PipelineEPS, res.PipelineActiveSeconds, res.PipelineWallSeconds, res.PipelineCPUSeconds)
			fmt.Fprintf(out, "ratio pipeline/min raw %10.2f\n", res.Ratio)
			fmt.Fprintf(out, "peak RSS               %10.1f MiB  (%s)\n", float64(res.PeakRSSBytes)/(1<<20), res.RSSNote)
			return nil
		},
	}
	addClickHouseFlags(ingestCmd)
	addKafkaFlags(ingestCmd)
	f := ingestCmd.Flags()
	f.IntVar(&opts.Events, "events", 100_000, "number of events to generate")
	f.IntVar(&opts.Partitions, "partitions", 3, "partitions per source topic")
	f.StringArrayVar(&childArgs, "ingest-arg", nil, "an extra flag for the pipeline child 'impact ingest', e.g. --ingest-arg=--flush-age=5s (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (pipeline_eps, kafka_raw_eps, clickhouse_raw_eps, ratio, peak_rss_bytes, ...)")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the pipeline child to this file")
	f.Int64Var(&budget, "memory-budget-mib", 0, "memory budget of the pipeline child (default: ingest's default)")
	f.StringVar(&memprofile, "memprofile", "", "write a peak heap profile of the pipeline child to this file")
	f.BoolVar(&verbose, "verbose", false, "copy the pipeline child's log to stderr")
	benchCmd.AddCommand(ingestCmd)
	rootCmd.AddCommand(benchCmd)
}
