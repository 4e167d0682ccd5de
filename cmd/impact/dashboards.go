package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards"
)

func init() {
	var out string
	var opts dashboards.ExportOptions
	export := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Write dashboard JSON and Grafana provisioning YAML for file provisioning",
		Long: `Writes DIR/dashboards/<uid>.json and DIR/provisioning/{dashboards,datasources}/*.yaml.
Mount DIR/provisioning at /etc/grafana/provisioning and DIR/dashboards at --dashboards-path.
The data source password is read by Grafana from $` + dashboards.ReaderPasswordEnv + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("dashboards export: --out DIR is required")
			}
			files, err := dashboards.Export(out, opts)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			return nil
		},
	}
	f := export.Flags()
	f.StringVar(&out, "out", "", "output directory")
	f.StringVar(&opts.DashboardsPath, "dashboards-path", dashboards.DefaultDashboardsPath, "path Grafana reads DIR/dashboards from")
	addDatasourceFlags(export, &opts.Datasource)

	cmd := &cobra.Command{Use: "dashboards", Short: "Grafana dashboards as code"}
	cmd.AddCommand(export)
	rootCmd.AddCommand(cmd)
}

// addDatasourceFlags binds the Grafana-side ClickHouse data source settings;
// they describe how Grafana reaches ClickHouse, which may differ from how
// this binary does.
func addDatasourceFlags(cmd *cobra.Command, ds *dashboards.Datasource) {
	f := cmd.Flags()
	f.StringVar(&ds.Host, "datasource-host", "clickhouse", "ClickHouse host as Grafana reaches it")
	f.IntVar(&ds.Port, "datasource-port", 9000, "ClickHouse native port as Grafana reaches it")
	f.StringVar(&ds.User, "datasource-user", "impact_reader", "read-only ClickHouse user for Grafana (password from $"+dashboards.ReaderPasswordEnv+")")
	f.StringVar(&ds.Database, "datasource-database", "impact", "ClickHouse database")
	f.BoolVar(&ds.Secure, "datasource-tls", false, "Grafana connects to ClickHouse over TLS")
}
