package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/secimpact/impact/internal/demo"
)

func init() {
	var (
		o      demo.Options
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on embedded defaults and print the headline findings",
		Long: `demo starts an embedded Kafka and a local ClickHouse server (unless
IMPACT_KAFKA_BROKERS / IMPACT_CLICKHOUSE_ADDR name existing ones), applies the
migrations, simulates an organisation and publishes it to Kafka, ingests it
through the real consumer group until drained, builds the analyst tables and
statistics, exports the Grafana dashboards to OUT/grafana, writes the executive
brief OUT/brief.html (last full quarter of the simulated window) and the
simulation's ground truth OUT/truth.json, and prints the headline findings.

The local ClickHouse server is removed when demo exits. With --keep it keeps
running (with the embedded Kafka) until Ctrl-C, and demo prints how to query it.
With --json the summary (stages, headline figures, truth checks, paths) goes to
stdout as JSON; progress always goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Kafka, o.ClickHouse = cfg.Kafka, cfg.ClickHouse
			o.Progress = os.Stderr
			o.Live = term.IsTerminal(int(os.Stderr.Fd()))
			o.Logger = slog.Default()
			stdout := cmd.OutOrStdout()
			o.Ready = func(s demo.Summary) {
				if asJSON {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					_ = enc.Encode(s)
				} else {
					printSummary(stdout, s, o.Keep)
				}
				if o.Keep {
					printConnect(os.Stderr, s)
				}
			}
			_, err := demo.Run(cmd.Context(), o)
			return err
		},
	}
	addClickHouseFlags(cmd)
	addKafkaFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&o.Days, "days", 365, "days of organisation to simulate")
	f.Uint64Var(&o.Seed, "seed", 1, "simulation seed (same seed, same data)")
	f.Float64Var(&o.Scale, "scale", 1, "volume multiplier of the simulation")
	f.StringVar(&o.Out, "out", "out", "directory for brief.html, truth.json and grafana/")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout")
	f.StringVar(&o.ClickHouseBinary, "clickhouse-server", "", "server binary of the local ClickHouse (default: clickhouse-server on PATH, /usr/sbin, or `clickhouse server`)")
	f.BoolVar(&o.Keep, "keep", false, "keep ClickHouse (and the embedded Kafka) running until Ctrl-C and print how to connect")
	rootCmd.AddCommand(cmd)
}

func printSummary(w io.Writer, s demo.Summary, keep bool) {
	fmt.Fprintf(w, "\nHeadline findings, simulated window %s to %s (seed %d):\n", s.Start.Format("2006-01-02"), s.End.AddDate(0, 0, -1).Format("2006-01-02"), s.Seed)
	for _, h := range s.Headlines {
		fmt.Fprintf(w, "  • %s: %s\n", h.Title, figure(h))
		if c := clustering(h); c != "" {
			fmt.Fprintf(w, "    %s\n", c)
		}
		if h.Wording != "" {
			fmt.Fprintf(w, "    %s\n", h.Wording)
		}
	}
	var parts []string
	for _, h := range s.WinRateByBucket {
		parts = append(parts, fmt.Sprintf("%s %s (n=%d)", h.Value, pct(h.Estimate), h.N))
	}
	fmt.Fprintf(w, "  • Win rate by review bucket (Wilson 95%% intervals in the brief): %s\n", strings.Join(parts, ", "))
	if len(s.IncidentCost) > 0 {
		h := s.IncidentCost[0]
		fmt.Fprintf(w, "  • Largest incident cost: %s %s (incidents its decisions contributed to, n = %d incidents)\n", h.Value, usd(h.Estimate), h.N)
	}
	if len(s.ControlSpend) > 0 {
		h := s.ControlSpend[0]
		fmt.Fprintf(w, "  • Largest control spend: %s %s (assessing and monitoring the tools it asked for; shown apart, not a loss)\n", h.Value, usd(h.Estimate))
	}
	ok := 0
	for _, c := range s.Checks {
		if c.Match {
			ok++
		}
	}
	fmt.Fprintf(w, "\nChecked against the simulation's truth: %d of %d figures equal", ok, len(s.Checks))
	for _, c := range s.Checks {
		if !c.Match {
			fmt.Fprintf(w, "\n  MISMATCH %s: observed %v, truth %v", c.Name, c.Observed, c.Truth)
		}
	}
	fmt.Fprintf(w, ".\n\nWritten in %.0fs:\n", s.Seconds)
	fmt.Fprintf(w, "  brief       %s (period %s to %s; open in a browser, print to PDF)\n", rel(s.Paths.Brief), s.Period.From.Format("2006-01-02"), s.Period.To.AddDate(0, 0, -1).Format("2006-01-02"))
	fmt.Fprintf(w, "  dashboards  %s (Grafana provisioning: datasources/, dashboards/)\n", rel(s.Paths.Grafana))
	fmt.Fprintf(w, "  truth       %s (what the simulation planted and realised)\n", rel(s.Paths.Truth))
	switch {
	case keep:
		fmt.Fprintf(w, "  data        ClickHouse %s, database %s, running until Ctrl-C (how to connect: below)\n", s.ClickHouse.Addr, s.ClickHouse.Database)
	case !s.ClickHouse.Local:
		fmt.Fprintf(w, "  data        ClickHouse %s, database %s: impact query \"SELECT * FROM deal_facts LIMIT 10\"\n", s.ClickHouse.Addr, s.ClickHouse.Database)
	default:
		fmt.Fprintf(w, "  data        the local ClickHouse is removed on exit; run `impact demo --keep` to query it\n")
	}
}

func printConnect(w io.Writer, s demo.Summary) {
	c := s.ClickHouse
	host, port, _ := strings.Cut(c.Addr, ":")
	user := c.ReaderUser
	if user == "" {
		user = "default"
	}
	fmt.Fprintf(w, "\nClickHouse is running at %s (database %s). Press Ctrl-C to stop it and remove its data.\n", c.Addr, c.Database)
	fmt.Fprintf(w, "  IMPACT_CLICKHOUSE_ADDR=%s IMPACT_CLICKHOUSE_USER=%s IMPACT_CLICKHOUSE_DATABASE=%s impact query \"SELECT review_bucket, count() AS deals, avg(won) AS win_rate FROM deal_facts GROUP BY review_bucket\"\n", c.Addr, user, c.Database)
	fmt.Fprintf(w, "  clickhouse-client --host %s --port %s --user %s --database %s\n", host, port, user, c.Database)
	if c.HTTPAddr != "" {
		fmt.Fprintf(w, "  Grafana data source: server %s, native port %s (HTTP %s)\n", host, port, c.HTTPAddr)
	}
	if s.Kafka.Embedded {
		fmt.Fprintf(w, "  Embedded Kafka: IMPACT_KAFKA_BROKERS=%s\n", strings.Join(s.Kafka.Brokers, ","))
	}
}

func figure(h demo.Headline) string {
	if h.Estimate == nil || h.Evidence == "insufficient" {
		return fmt.Sprintf("n too small (n = %d, %s)", h.N, h.Evidence)
	}
	f := func(v *float64) string { return value(v, h.Unit) }
	ci := "no interval"
	if h.Low != nil && h.High != nil {
		ci = "95% CI " + f(h.Low) + " to " + f(h.High)
	}
	return fmt.Sprintf("%s (%s), n = %d, evidence: %s", f(h.Estimate), ci, h.N, h.Evidence)
}

// value formats one figure in its unit.
func value(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	switch unit {
	case "ratio":
		return fmt.Sprintf("%+.1f pp", *v*100)
	case "usd":
		return usd(v)
	case "score":
		return fmt.Sprintf("%+.2f points", *v)
	case "hours":
		return fmt.Sprintf("%+.1f h", *v)
	}
	return fmt.Sprintf("%.3g %s", *v, unit)
}

// clustering says which unit the interval treats as independent and, for
// a clustered one, what treating every deal or deployment as independent
// would give: the difference the account and service effects make.
func clustering(h demo.Headline) string {
	if h.Cluster == "" || h.Estimate == nil || h.Evidence == "insufficient" {
		return ""
	}
	out := "interval clustered by " + h.Cluster
	if h.NaiveLow != nil && h.NaiveHigh != nil {
		out += "; treating each observation as independent would give " + value(h.NaiveLow, h.Unit) + " to " + value(h.NaiveHigh, h.Unit)
	}
	if h.MDE != nil {
		out += "; detectable at 80% power: " + value(h.MDE, h.Unit)
	}
	return out
}

func pct(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", *v*100)
}

func usd(v *float64) string {
	if v == nil {
		return "–"
	}
	s := fmt.Sprintf("%.0f", *v)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return "$" + b.String()
}

func rel(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
