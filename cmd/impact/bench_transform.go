package main

import (
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
		Short: "Time a full and three incremental transform refreshes on simulated events",
		Long: `bench transform simulates about --events events, bulk loads all but the last 3%
into the typed tables of a ClickHouse server (a local one it starts itself unless
--clickhouse-addr / IMPACT_CLICKHOUSE_ADDR is set; the database impact_bench is
dropped and recreated), times a full refresh, then three times loads the next 1%
and times an incremental refresh. For each refresh it reports wall time, the
server CPU of its queries (system.query_log: not inflated by other load), the
client CPU, the load averages and, per table, the entities recomputed, rows
written and partitions rebuilt or kept. Targets at 10 million events (issue 12):
full < 30 s; each incremental < 5 s wall and at most 1/6 of the full refresh's
server CPU.

With --reuse-load on a server that outlives the run (--clickhouse-addr), the
loaded typed tables and the held-back events are kept in the database
<database>_load, and a later run with the same --events and --seed restores
them by hard links instead of simulating and loading again.`,
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
				return printJSON(out, res) // bench_gateway.go
			}
			fmt.Fprintf(out, "events %d, loaded %d rows in %.1f s (%.0f rows/s), ClickHouse %s, %d CPUs\n",
				res.Events, res.LoadedRows, res.LoadSeconds, res.LoadRowsPerSec, res.ServerVersion, res.CPUs)
			line := func(name string, r bench.Refresh) {
				fmt.Fprintf(out, "%-14s %7.2f s wall, server CPU %6.2f s (query log, system %.2f s; process %.1f s), client CPU %.1f s, load %.1f/%.1f/%.1f",
					name, r.Seconds, r.ServerCPU, r.ServerSystemCPU, r.ServerProcessCPU, r.ClientCPU, r.LoadAverage[0], r.LoadAverage[1], r.LoadAverage[2])
				if r.NewEvents > 0 {
					fmt.Fprintf(out, ", after %d new events", r.NewEvents)
				}
				fmt.Fprintln(out)
			}
			line("full", res.Full)
			for i, r := range res.Incremental {
				line(fmt.Sprintf("incremental %d", i+1), r)
				fmt.Fprintf(out, "%14s server CPU %.3f of the full refresh's (target <= 0.167)\n", "", res.ServerCPURatio[i])
			}
			var tables []string
			for t := range res.Full.Tables {
				tables = append(tables, t)
			}
			sort.Strings(tables)
			fmt.Fprintf(out, "%-22s %10s %8s  %s\n", "table", "rows", "full s", "incremental runs: s, touched, rows written, partitions rebuilt/kept")
			for _, t := range tables {
				fmt.Fprintf(out, "%-22s %10d %8.2f ", t, res.Full.Tables[t].Rows, res.Full.Tables[t].Seconds)
				for _, r := range res.Incremental {
					x := r.Tables[t]
					fmt.Fprintf(out, " | %5.2f %7d %8d %2d/%-2d", x.Seconds, x.Touched, x.Written, x.PartitionsRebuilt, x.PartitionsKept)
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
	addClickHouseFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&opts.Events, "events", 10_000_000, "about how many events to simulate")
	f.Uint64Var(&opts.Seed, "seed", 1, "simulation seed")
	f.BoolVar(&asJSON, "json", false, "print the figures as JSON")
	f.BoolVar(&opts.ReuseLoad, "reuse-load", false, "keep the loaded events in <database>_load and reuse them on the next run with the same --events and --seed (skips simulating and loading; for iterating on a server of your own, --clickhouse-addr)")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a Go CPU profile of the refreshes to this file")

	benchParent().AddCommand(cmd) // bench_gateway.go
}
