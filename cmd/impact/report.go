package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/department"
	"github.com/secimpact/impact/internal/mail"
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
	var a reportArgs
	cmd := &cobra.Command{
		Use:   "report --out brief.html [--period 2026-Q2 | --from DATE --to DATE] [--compare previous|year] [--department NAME] [--every quarter] [--change NAME=DATE] [--mail]",
		Short: "Write the executive brief (one self-contained HTML file) for a period, a department, every period, or mail it",
		Long: `report reads the analyst tables (deal_facts, ticket_facts, deployment_facts,
department_scorecard, dora_changes, impact_stats) and writes the executive brief: headline
figures with n, 95% interval and evidence level, win rate by review bucket, revenue lost to
security, CSAT around incidents, gate delay, the department scorecard with incident cost and
control spend, and a plain-language methods section. The file needs no network to open and
prints to PDF from a browser.

The period is --period (2026-Q2, 2026-06 or 2026, UTC) or --from to --to (dates, --to
included). Without them it is the last full calendar quarter before the earlier of now and
the as-of time of the latest transform run, so a brief of backfilled or simulated data
covers the last quarter that has data.

Every figure is read from impact_stats: for each, the stored period (all data, a calendar
year, quarter or month) that lies inside the brief's period, all data when it does, else the
longest; the dashboards show the same number for the same range. A calendar quarter, month
or year gives exactly that period's figures.

--change NAME=YYYY-MM-DD (repeatable) adds the difference-in-differences of win rates around
a process change (deals that required a security review against deals that did not, before
and after; with a placebo and the parallel-trends caveat), computed with the transform's
code over all deals.

--compare previous|year adds, for every headline figure, the same figure of the previous
period (or of the same period a year before) and the change, with a 95% interval built from
the two figures' own intervals and whether it is distinguishable from noise.

--department NAME writes that department's one-page version: its SLA compliance, gate block
rate, change failure rate, lead time, cost of risk and security debt, month by month.

--every month|quarter|year writes one brief per full period from the first data on into the
directory --out, named brief-<period>.html (brief-<department slug>-<period>.html with
--department).

--mail renders the brief in headless Chromium (refusing one with console errors), prints it
to PDF and mails it, the brief inline as HTML and the PDF attached, through the SMTP server
of IMPACT_SMTP_ADDR (IMPACT_SMTP_USER, IMPACT_SMTP_PASSWORD or IMPACT_SMTP_PASSWORD_FILE,
IMPACT_SMTP_FROM, IMPACT_SMTP_TO comma separated, IMPACT_SMTP_TLS starttls|tls|none,
IMPACT_SMTP_TLS_CA).`,
		Example: `  impact report --out brief.html
  impact report --period 2026-Q2 --compare previous --out q2.html
  impact report --period 2026-Q2 --compare year --department Engineering --out eng-q2.html --mail
  impact report --every quarter --compare previous --out briefs/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.now = time.Now()
			return runReport(cmd.Context(), cmd.ErrOrStderr(), cfg.ClickHouse, a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.out, "out", "brief.html", "the HTML file to write (a directory with --every)")
	f.StringVar(&a.from, "from", "", "first day of the period, YYYY-MM-DD (UTC)")
	f.StringVar(&a.to, "to", "", "last day of the period, included, YYYY-MM-DD (UTC)")
	f.StringVar(&a.period, "period", "", "the period: YYYY-Qn, YYYY-MM or YYYY (UTC)")
	f.StringVar(&a.compare, "compare", "", "compare with the previous period (previous) or the same period a year before (year)")
	f.StringVar(&a.department, "department", "", "write this department's one-page version")
	f.StringVar(&a.every, "every", "", "write one brief per full month, quarter or year into the directory --out")
	f.BoolVar(&a.mail, "mail", false, "mail the brief (HTML inline, PDF attached) through IMPACT_SMTP_*")
	f.StringVar(&a.org, "organisation", "", "organisation name for the header")
	f.StringArrayVar(&a.changes, "change", nil, "a named process change NAME=YYYY-MM-DD: add its difference-in-differences of win rates (repeatable)")
	addClickHouseFlags(cmd)
	rootCmd.AddCommand(cmd)
}

type reportArgs struct {
	out, from, to, org          string
	period, compare, department string
	every                       string
	mail                        bool
	changes                     []string
	now                         time.Time
	mailConfig                  *mail.Config // tests; nil: mail.FromEnv
}

// runReport writes the brief(s) the flags select and says where they went
// on w.
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
	if len(changes) > 0 && a.department != "" {
		return fmt.Errorf("--change adds company-wide win-rate figures: give it without --department")
	}
	switch {
	case a.period != "" && (a.from != "" || a.to != ""):
		return fmt.Errorf("give --period or --from/--to, not both")
	case a.period != "":
		if p, err = brief.ParsePeriod(a.period); err != nil {
			return fmt.Errorf("--period: %w", err)
		}
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
	switch a.compare {
	case "", "previous", "year":
	default:
		return fmt.Errorf("--compare %q: want previous or year", a.compare)
	}
	if a.every != "" && (a.mail || !p.From.IsZero()) {
		return fmt.Errorf("--every writes every period: give it without --period, --from/--to and --mail")
	}
	var mc mail.Config
	if a.mail {
		if a.mailConfig != nil {
			mc = *a.mailConfig
		} else if mc, err = mail.FromEnv(); err != nil {
			return err
		}
		if err := mc.Validate(); err != nil {
			return err
		}
		if _, err := brief.Chromium(); err != nil {
			return err
		}
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()

	lo := brief.LoadOptions{Organisation: a.org, Now: a.now, Department: a.department}
	if len(changes) > 0 {
		rows, err := transform.ComputeChanges(ctx, conn, transform.StatsOptions{}, changes)
		if err != nil {
			return err
		}
		for _, r := range rows {
			lo.Changes = append(lo.Changes, briefStat(r))
		}
	}
	if a.every != "" {
		return reportEvery(ctx, w, conn, lo, a)
	}
	if p.From.IsZero() {
		if p, err = brief.DefaultPeriod(ctx, conn, a.now); err != nil {
			return err
		}
	}
	page, data, err := renderBrief(ctx, conn, p, lo, a.compare)
	if err != nil {
		return err
	}
	if err := writeFile(a.out, page); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (period %s)\n", a.out, p)
	if !a.mail {
		return nil
	}
	printed, err := brief.PrintPDF(ctx, a.out)
	if err != nil {
		return err
	}
	if len(printed.Console) > 0 {
		return fmt.Errorf("the brief renders with console errors in Chromium, not mailed: %v", printed.Console)
	}
	name := "impact-brief-" + p.Name()
	subject := "impact brief " + p.Name()
	if a.department != "" {
		name = "impact-brief-" + department.Slug(a.department) + "-" + p.Name()
		subject += ": " + a.department
	}
	msg := mail.Message{Subject: subject, Text: brief.Text(data), HTML: string(page),
		Attachments: []mail.Attachment{{Name: name + ".pdf", ContentType: "application/pdf", Data: printed.PDF}}}
	if err := mail.Send(ctx, mc, msg); err != nil {
		return err
	}
	fmt.Fprintf(w, "mailed %s to %d recipients (PDF %d bytes)\n", subject, len(mc.To), len(printed.PDF))
	return nil
}

// renderBrief loads the brief of p (and of the period it is compared
// with, "previous" or "year") and renders it.
func renderBrief(ctx context.Context, conn driver.Conn, p brief.Period, opts brief.LoadOptions, compare string) ([]byte, brief.Data, error) {
	data, err := brief.Load(ctx, conn, p, opts)
	if err != nil {
		return nil, data, err
	}
	if compare != "" {
		prev, label := p.Previous(), "previous period"
		if compare == "year" {
			prev, label = p.YearBefore(), "same period a year before"
		}
		if g := p.Grain(); g != "" && compare == "previous" {
			label = "previous " + g
		}
		before, err := brief.Load(ctx, conn, prev, opts)
		if err != nil {
			return nil, data, err
		}
		data.Comparison = brief.Compare(data, before, label+" ("+prev.Name()+")")
	}
	var buf bytes.Buffer
	if err := brief.Render(&buf, data); err != nil {
		return nil, data, err
	}
	return buf.Bytes(), data, nil
}

// reportEvery writes one brief per full period of a.every from the first
// data to the as-of time.
func reportEvery(ctx context.Context, w io.Writer, conn driver.Conn, lo brief.LoadOptions, a reportArgs) error {
	first, ok, err := brief.FirstData(ctx, conn)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no deals, tickets or deployments yet: nothing to report")
	}
	end, err := brief.AsOf(ctx, conn, a.now)
	if err != nil {
		return err
	}
	periods, err := brief.Every(a.every, first, end, end)
	if err != nil {
		return err
	}
	if len(periods) == 0 {
		return fmt.Errorf("no full %s between %s and %s", a.every, first.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	if err := os.MkdirAll(a.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	prefix := "brief-"
	if a.department != "" {
		prefix += department.Slug(a.department) + "-"
	}
	for _, p := range periods {
		page, _, err := renderBrief(ctx, conn, p, lo, a.compare)
		if err != nil {
			return fmt.Errorf("brief of %s: %w", p.Name(), err)
		}
		file := filepath.Join(a.out, prefix+p.Name()+".html")
		if err := writeFile(file, page); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (period %s)\n", file, p)
	}
	return nil
}

func writeFile(name string, b []byte) error {
	if err := os.WriteFile(name, b, 0o644); err != nil {
		return fmt.Errorf("write brief: %w", err)
	}
	return nil
}
