package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/dashboards"
)

func init() {
	var out string
	var opts dashboards.ExportOptions
	export := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Write dashboard JSON and Grafana provisioning YAML for file provisioning",
		Long: `Writes a Grafana provisioning directory: DIR/datasources/clickhouse.yaml,
DIR/dashboards/impact.yaml and DIR/dashboards/json/<uid>.json. Mount DIR at
/etc/grafana/provisioning (docker-compose mounts dashboards/provisioning).
Grafana fills the data source from its environment: ` + strings.Join(dashboards.GrafanaEnv, ", ") + `.`,
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
	f.IntVar(&opts.Port, "datasource-port", 9000, "ClickHouse native port as Grafana reaches it")
	f.BoolVar(&opts.Secure, "datasource-tls", false, "Grafana connects to ClickHouse over TLS")

	cmd := &cobra.Command{Use: "dashboards", Short: "Grafana dashboards as code"}
	cmd.AddCommand(export)
	rootCmd.AddCommand(cmd)
}
