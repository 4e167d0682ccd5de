package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/transform"
)

func init() {
	var (
		opts     transform.Options
		once     bool
		interval time.Duration
		asOf     string
		plan     string
		changes  []string
		sla      string
	)
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Refresh the analyst contract tables and impact_stats",
		Long: `transform builds findings, deal_facts, deployment_facts, ticket_facts,
department_scorecard and impact_stats from the typed event tables (run
'impact migrate' and ingest first). Each table is rebuilt into <table>_next and
swapped in atomically; after the first run only entities with new events are
recomputed. Every run is logged and recorded in transform_runs.

It refreshes every --interval until stopped; --once refreshes once and exits.
One refresh runs at a time per database, across processes and hosts: while
another holds the transform lock, a refresh waits for it (saying whose it is),
or with --no-wait exits with an error naming the holder.
--plan full|incremental prints the SQL a refresh sends, without running it.

--change NAME=YYYY-MM-DD (repeatable) names a process change, for example
--change questionnaire-automation=2026-03-01: impact_stats then carries the
difference-in-differences of win rates of deals that required a security
review against deals that did not, before and after it (win_rate_did, with a
placebo before the change; the CISO dashboard's process-change panel).
--sla-policy "critical=15d,high=30d,medium=90d,low=180d" sets the remediation
SLA policy (the transform owns it: due dates the source sent are kept, every
other one follows the policy; a changed policy rebuilds findings).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asOf != "" {
				t, err := time.Parse(time.RFC3339, asOf)
				if err != nil {
					return fmt.Errorf("--as-of: %w", err)
				}
				opts.AsOf = t
			}
			for _, c := range changes {
				ch, err := transform.ParseChange(c)
				if err != nil {
					return fmt.Errorf("--change: %w", err)
				}
				opts.Stats.Changes = append(opts.Stats.Changes, ch)
			}
			if sla != "" {
				p, err := transform.ParseSLAPolicy(sla, "")
				if err != nil {
					return fmt.Errorf("--sla-policy: %w", err)
				}
				opts.SLA = p
			}
			if plan != "" {
				stmts, err := transform.Plan(opts, plan)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), strings.Join(stmts, ";\n\n")+";")
				return nil
			}
			ctx := cmd.Context()
			conn, err := chconn.Open(ctx, cfg.ClickHouse)
			if err != nil {
				return err
			}
			defer conn.Close()
			opts.Logger = slog.Default()
			if opts.Cluster != "" {
				// The other servers of the cluster, with the same
				// credentials and database (see transform.Options.Dial).
				opts.Dial = func(ctx context.Context, addr string) (driver.Conn, error) {
					c := cfg.ClickHouse
					c.Addr = addr
					return chconn.Open(ctx, c)
				}
			}
			// impact_stats' reads of the partitions a refresh did not
			// rebuild, kept for the next refresh of this loop.
			opts.Cache = &transform.Cache{}
			for {
				rep, err := transform.Refresh(ctx, conn, opts)
				switch {
				case err != nil && once:
					return err
				case err != nil:
					// A long-running refresher survives a ClickHouse outage:
					// the next interval tries again.
					slog.Error("transform refresh failed", "err", err)
				default:
					slog.Info("transform done", "mode", rep.Mode, "duration", rep.Duration.Round(time.Millisecond))
				}
				if once {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
				opts.Full = false
			}
		},
	}
	addClickHouseFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&once, "once", false, "refresh once and exit")
	f.DurationVar(&interval, "interval", 5*time.Minute, "time between refreshes")
	f.DurationVar(&opts.Overlap, "overlap", transform.DefaultOverlap, "how far below the server clock the watermark is kept (on a cluster: more than the servers' clock skew)")
	f.StringVar(&opts.Cluster, "cluster", "", "cluster name when the typed tables were migrated with 'impact migrate --cluster' (the watermark then checks every server)")
	f.Float64Var(&opts.DeltaShare, "delta-share", transform.DefaultDeltaShare, "share of its base's rows the delta of findings or ticket_facts (the entities recomputed since the base was written) may reach before a refresh folds it into a new base")
	f.BoolVar(&opts.NoWait, "no-wait", false, "exit with an error instead of waiting when another refresh of the database is running")
	f.BoolVar(&opts.Full, "full", false, "rebuild every table in full (first run only)")
	f.StringVar(&asOf, "as-of", "", "RFC 3339 instant state-dependent figures are computed for (default: now)")
	f.IntVar(&opts.Stats.Rules.MinN, "min-n", 0, "smallest group a statistic is shown for (default 30)")
	f.StringVar(&plan, "plan", "", "print the SQL of a full or incremental refresh and exit")
	f.StringArrayVar(&changes, "change", nil, "a named process change NAME=YYYY-MM-DD for the difference-in-differences of win rates (repeatable)")
	f.StringVar(&sla, "sla-policy", "", `remediation SLA policy, e.g. "critical=15d,high=30d,medium=90d,low=180d" (default that)`)
	rootCmd.AddCommand(cmd)
}
