package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
)

func init() {
	var (
		out, from, to, org string
	)
	cmd := &cobra.Command{
		Use:   "report --out brief.html [--from DATE --to DATE]",
		Short: "Write the executive brief (one self-contained HTML file) for a period",
		Long: `report reads the analyst tables (deal_facts, ticket_facts, deployment_facts,
department_scorecard, impact_stats) and writes the executive brief: headline
figures with n, 95% interval and evidence level, win rate by review bucket,
revenue lost to security, CSAT around incidents, gate delay, the department
scorecard with cost of risk, and a plain-language methods section. The file
needs no network to open and prints to PDF from a browser.

The period is --from to --to, both dates (YYYY-MM-DD, UTC) and --to included.
Without them it is the last full calendar quarter before the earlier of now and
the as-of time of the latest transform run, so a brief of backfilled or
simulated data covers the last quarter that has data.`,
		Example: `  impact report --out brief.html
  impact report --out q2.html --from 2026-04-01 --to 2026-06-30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			conn, err := chconn.Open(ctx, cfg.ClickHouse)
			if err != nil {
				return err
			}
			defer conn.Close()
			var p brief.Period
			switch {
			case from == "" && to == "":
				if p, err = brief.DefaultPeriod(ctx, conn, time.Now()); err != nil {
					return err
				}
			case from == "" || to == "":
				return fmt.Errorf("give both --from and --to, or neither (default: the last full quarter)")
			default:
				if p.From, err = time.Parse(time.DateOnly, from); err != nil {
					return fmt.Errorf("--from: want YYYY-MM-DD: %w", err)
				}
				last, err := time.Parse(time.DateOnly, to)
				if err != nil {
					return fmt.Errorf("--to: want YYYY-MM-DD: %w", err)
				}
				p.To = last.AddDate(0, 0, 1) // --to is the last day included
			}
			data, err := brief.Load(ctx, conn, p, brief.LoadOptions{Organisation: org})
			if err != nil {
				return err
			}
			f, err := os.Create(out)
			if err != nil {
				return fmt.Errorf("write brief: %w", err)
			}
			if err := brief.Render(f, data); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write brief: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (period %s)\n", out, p)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "brief.html", "the HTML file to write")
	f.StringVar(&from, "from", "", "first day of the period, YYYY-MM-DD (UTC)")
	f.StringVar(&to, "to", "", "last day of the period, included, YYYY-MM-DD (UTC)")
	f.StringVar(&org, "organisation", "", "organisation name for the header")
	addClickHouseFlags(cmd)
	rootCmd.AddCommand(cmd)
}
