package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
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
			return runReport(cmd.Context(), cmd.ErrOrStderr(), cfg.ClickHouse, reportArgs{out: out, from: from, to: to, org: org, now: time.Now()})
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

type reportArgs struct {
	out, from, to, org string
	now                time.Time
}

// runReport writes the brief for the period the flags select and says
// where it went on w.
func runReport(ctx context.Context, w io.Writer, cc config.ClickHouse, a reportArgs) error {
	var p brief.Period
	var err error
	switch {
	case a.from == "" && a.to == "":
	case a.from == "" || a.to == "":
		return fmt.Errorf("give both --from and --to, or neither (default: the last full quarter)")
	default:
		if p.From, err = time.Parse(time.DateOnly, a.from); err != nil {
			return fmt.Errorf("--from: want YYYY-MM-DD: %w", err)
		}
		last, err := time.Parse(time.DateOnly, a.to)
		if err != nil {
			return fmt.Errorf("--to: want YYYY-MM-DD: %w", err)
		}
		p.To = last.AddDate(0, 0, 1) // --to is the last day included
		if !p.From.Before(p.To) {
			return fmt.Errorf("--from %s is after --to %s", a.from, a.to)
		}
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()
	if p.From.IsZero() {
		if p, err = brief.DefaultPeriod(ctx, conn, a.now); err != nil {
			return err
		}
	}
	data, err := brief.Load(ctx, conn, p, brief.LoadOptions{Organisation: a.org, Now: a.now})
	if err != nil {
		return err
	}
	f, err := os.Create(a.out)
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
	fmt.Fprintf(w, "wrote %s (period %s)\n", a.out, p)
	return nil
}
