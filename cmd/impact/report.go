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
	"github.com/secimpact/impact/transform"
)

// briefStat is a computed impact_stats row in the brief's form.
func briefStat(r transform.Stat) brief.Stat {
	return brief.Stat{Metric: r.Metric, Dimension: r.Dimension, Value: r.Value, Period: r.Period.Name, Grain: r.Period.Grain,
		Start: r.Period.Start, End: r.Period.End, N: int64(r.N), Estimate: r.Estimate, Low: r.Low, High: r.High,
		Method: r.Method, Evidence: r.Evidence, P: r.P, Unit: r.Unit, NaiveLow: r.NaiveLow, NaiveHigh: r.NaiveHigh,
		Cluster: r.Cluster, Clusters: int64(r.Clusters), MDE: r.MDE, MinN: int64(r.MinN), Enough: r.Enough, Note: r.Note}
}

func init() {
	var (
		out, from, to, org string
		changes            []string
	)
	cmd := &cobra.Command{
		Use:   "report --out brief.html [--from DATE --to DATE]",
		Short: "Write the executive brief (one self-contained HTML file) for a period",
		Long: `report reads the analyst tables (deal_facts, ticket_facts, deployment_facts,
department_scorecard, impact_stats) and writes the executive brief: headline
figures with n, 95% interval and evidence level, win rate by review bucket,
revenue lost to security, CSAT around incidents, gate delay, the department
scorecard with incident cost and control spend, and a plain-language methods section. The file
needs no network to open and prints to PDF from a browser.

The period is --from to --to, both dates (YYYY-MM-DD, UTC) and --to included.
Without them it is the last full calendar quarter before the earlier of now and
the as-of time of the latest transform run, so a brief of backfilled or
simulated data covers the last quarter that has data.

Every figure is read from impact_stats: for each, the stored period (all data,
a calendar year, quarter or month) that lies inside the brief's period, all data
when it does, else the longest; the dashboards show the same number for the same
range. A calendar quarter, month or year gives exactly that period's figures.

--change NAME=YYYY-MM-DD (repeatable) adds the difference-in-differences of win
rates around a process change (deals that required a security review against
deals that did not, before and after; with a placebo and the parallel-trends
caveat), computed with the transform's code over all deals.`,
		Example: `  impact report --out brief.html
  impact report --out q2.html --from 2026-04-01 --to 2026-06-30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd.Context(), cmd.ErrOrStderr(), cfg.ClickHouse, reportArgs{out: out, from: from, to: to, org: org, now: time.Now(), changes: changes})
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "brief.html", "the HTML file to write")
	f.StringVar(&from, "from", "", "first day of the period, YYYY-MM-DD (UTC)")
	f.StringVar(&to, "to", "", "last day of the period, included, YYYY-MM-DD (UTC)")
	f.StringVar(&org, "organisation", "", "organisation name for the header")
	f.StringArrayVar(&changes, "change", nil, "a named process change NAME=YYYY-MM-DD: add its difference-in-differences of win rates (repeatable)")
	addClickHouseFlags(cmd)
	rootCmd.AddCommand(cmd)
}

type reportArgs struct {
	out, from, to, org string
	now                time.Time
	changes            []string
}

// runReport writes the brief for the period the flags select and says
// where it went on w.
func runReport(ctx context.Context, w io.Writer, cc config.ClickHouse, a reportArgs) error {
	var p brief.Period
	var err error
	var changes []transform.Change
	for _, c := range a.changes {
		ch, err := transform.ParseChange(c)
		if err != nil {
			return fmt.Errorf("--change: %w", err)
		}
		changes = append(changes, ch)
	}
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
	lo := brief.LoadOptions{Organisation: a.org, Now: a.now}
	if len(changes) > 0 {
		rows, err := transform.ComputeChanges(ctx, conn, transform.StatsOptions{}, changes)
		if err != nil {
			return err
		}
		for _, r := range rows {
			lo.Changes = append(lo.Changes, briefStat(r))
		}
	}
	data, err := brief.Load(ctx, conn, p, lo)
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
