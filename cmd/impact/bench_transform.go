package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/transform/bench"
)

func init() {
	var (
		opts       bench.Options
		asJSON     bool
		cpuprofile string
	)
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Time a full and an incremental transform refresh on simulated events",
		Long: `bench transform simulates about --events events, bulk loads all but the last 1%
into the typed tables of a ClickHouse server (a local one it starts itself unless
--clickhouse-addr / IMPACT_CLICKHOUSE_ADDR is set; the database impact_bench is
dropped and recreated), times a full refresh, loads the last 1% and times the
incremental refresh. Targets: full < 60 s and incremental < 10 s at 10 million
events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ClickHouse = cfg.ClickHouse
			if opts.ClickHouse.Database == "impact" {
				opts.ClickHouse.Database = "impact_bench" // never drop the real database
			}
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				opts.CPUProfile = f
			}
			res, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Fprintf(out, "events %d, loaded %d rows in %.1f s (%.0f rows/s), ClickHouse %s, %d CPUs\n",
				res.Events, res.LoadedRows, res.LoadSeconds, res.LoadRowsPerSec, res.ServerVersion, res.CPUs)
			fmt.Fprintf(out, "full refresh:        %6.2f s (target < 60 s); CPU s: server %.1f, client %.1f\n", res.FullSeconds, res.FullServerCPU, res.FullClientCPU)
			fmt.Fprintf(out, "incremental refresh: %6.2f s after %d new events (target < 10 s); CPU s: server %.1f, client %.1f\n",
				res.IncrementalSeconds, res.IncrementalEvents, res.IncrementalServerCPU, res.IncrementalClientCPU)
			fmt.Fprintf(out, "load average (1 min) at the end: %.1f on %d CPUs\n", res.LoadAverage, res.CPUs)
			var tables []string
			for t := range res.FullTables {
				tables = append(tables, t)
			}
			sort.Strings(tables)
			fmt.Fprintf(out, "%-22s %10s %8s %12s %10s\n", "table", "rows", "full s", "incremental s", "touched")
			for _, t := range tables {
				fmt.Fprintf(out, "%-22s %10d %8.2f %12.2f %10d\n", t, res.Rows[t], res.FullTables[t], res.IncrementalTables[t], res.Touched[t])
			}
			return nil
		},
	}
	addClickHouseFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&opts.Events, "events", 10_000_000, "about how many events to simulate")
	f.Uint64Var(&opts.Seed, "seed", 1, "simulation seed")
	f.BoolVar(&asJSON, "json", false, "print the figures as JSON")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a Go CPU profile of the refreshes to this file")

	benchParent().AddCommand(cmd) // bench_gateway.go
}
