package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards"
)

func init() {
	var opts dashboards.ProvisionOptions
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create or update the ClickHouse data source, the impact folder and every dashboard in Grafana",
		Long: `Pushes the data source, folder "impact" and all dashboards (overwritten by uid) to
Grafana through its HTTP API, changing only what differs; prints what it did per object.
Authentication: IMPACT_GRAFANA_TOKEN (service account token) or IMPACT_GRAFANA_USER and
IMPACT_GRAFANA_PASSWORD. The data source password comes from $` + dashboards.ReaderPasswordEnv + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Datasource.Password = os.Getenv(dashboards.ReaderPasswordEnv)
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
	rootCmd.AddCommand(cmd)
}
