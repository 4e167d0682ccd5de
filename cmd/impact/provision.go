package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards"
	"github.com/secimpact/impact/internal/access"
)

func init() {
	var (
		opts        dashboards.ProvisionOptions
		departments bool
		secrets     string
		alerting    string
	)
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create or update the ClickHouse data source, the impact folder and every dashboard in Grafana",
		Long: `Pushes the data source, folder "impact" and all dashboards (overwritten by uid) to
Grafana through its HTTP API, changing only what differs; prints what it did per object.
Authentication: IMPACT_GRAFANA_TOKEN (service account token) or IMPACT_GRAFANA_USER and
IMPACT_GRAFANA_PASSWORD. The data source password comes from $` + dashboards.ReaderPasswordEnv + `.

With --departments --secrets FILE (the secrets file of impact access) every department
there also gets a team "impact: NAME", a folder only that team and the CISO's team
(--ciso-team) see, a data source connecting as the department's own read-only
ClickHouse user, and its own scorecard dashboard with the department fixed; the
cross-department folder "impact" is then visible to the CISO's team alone (Grafana
Admins always see everything). Add department heads to their team in Grafana.

With --alerting FILE (YAML: ciso and departments contacts, thresholds; see
deploy/alerting.example.yaml) it also provisions the alert rules (SLA breaches,
security debt growth, cost of risk, gate block rate spike, ingest stalled, DLQ
rate, transform stale), a contact point per contact and impact's route in the
notification policies: department alerts go to the department's contact point by
their department label, everything else to the CISO's (docs/alerts.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Datasource.Password = os.Getenv(dashboards.ReaderPasswordEnv)
			if departments != (secrets != "") {
				return fmt.Errorf("give --departments and --secrets FILE together")
			}
			if alerting != "" {
				a, err := dashboards.LoadAlerting(alerting)
				if err != nil {
					return err
				}
				opts.Alerting = &a
			}
			if departments {
				s, err := access.LoadSecrets(secrets)
				if err != nil {
					return err
				}
				if len(s.Departments) == 0 {
					return fmt.Errorf("secrets file %s holds no department: run impact access first", secrets)
				}
				for _, r := range s.Readers(opts.Datasource.Database) {
					opts.Departments = append(opts.Departments, dashboards.Department{Name: r.Department, Reader: dashboards.Datasource{
						User: r.User, Database: r.Database, Password: r.Credential.Password, CredentialVersion: r.Credential.Version()}})
				}
			}
			results, err := dashboards.Provision(cmd.Context(), cfg.Grafana, opts)
			for _, r := range results {
				fmt.Fprintln(cmd.OutOrStdout(), r)
			}
			if err != nil {
				return fmt.Errorf("provision: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Grafana.URL, "grafana-url", cfg.Grafana.URL, "Grafana base URL (env IMPACT_GRAFANA_URL)")
	f.StringVar(&opts.Datasource.Host, "datasource-host", "clickhouse", "ClickHouse host as Grafana reaches it")
	f.IntVar(&opts.Datasource.Port, "datasource-port", 9000, "ClickHouse native port as Grafana reaches it")
	f.StringVar(&opts.Datasource.User, "datasource-user", "impact_reader", "read-only ClickHouse user for Grafana")
	f.StringVar(&opts.Datasource.Database, "datasource-database", "impact", "ClickHouse database")
	f.BoolVar(&opts.Datasource.Secure, "datasource-tls", false, "Grafana connects to ClickHouse over TLS")
	f.BoolVar(&opts.RotatePassword, "rotate-password", false, "send the data source password even if nothing else changed")
	f.BoolVar(&departments, "departments", false, "also provision each department of --secrets: team, folder, permissions, data source, dashboard")
	f.StringVar(&secrets, "secrets", "", "secrets file of impact access (the departments' readers)")
	f.StringVar(&alerting, "alerting", "", "alerting configuration (YAML): provision alert rules, contact points and notification policies")
	f.StringVar(&opts.CISOTeam, "ciso-team", dashboards.DefaultCISOTeam, "team that sees the cross-department folder and every department's")
	rootCmd.AddCommand(cmd)
}
