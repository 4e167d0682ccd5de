package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/ingest/importer"
	"github.com/secimpact/impact/ingest/sources/catalog"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

// catalog import brings in who owns what from the records an organisation
// already keeps, dated, so that findings and deployments are attributed to
// the team that owned the service when they happened.
func init() {
	parent := &cobra.Command{
		Use:   "catalog",
		Short: "Service ownership: import it from Backstage, CODEOWNERS or CSV",
	}
	var (
		flags      importFlags
		effective  string
		repository string
	)
	cmd := &cobra.Command{
		Use:   "import FILE... [--effective-at DATE] [--repo OWNER/NAME] [--mapping FILE] [--dry-run]",
		Short: "Import service ownership (team, department) with effective dates to Kafka",
		Long: `catalog import reads ownership records and publishes catalog.service.upserted
events, each with the date the ownership took effect:

  Backstage catalog files (*.yaml, *.yml): a Component's spec.owner Group is
    its team; the department is the owner's parent Group (or, with
    catalog.department_types in the mapping file, the first ancestor of such
    a type). Give the files defining the Groups too. The service id is the
    component's github.com/project-slug (through the mapping file's
    services), else its name.
  CODEOWNERS: the default owner team (the catch-all rule's first @org/team)
    owns the repository given with --repo; departments come from
    catalog.departments in the mapping file.
  CSV (*.csv): columns service, team, department, from (YYYY-MM-DD), and
    optionally tier, internet_facing, service_name, product; one row per
    ownership period, so a service moving team is a second row.

A catalog file says who owns what now; --effective-at says since when (a
Backstage component may say it with the annotation
impact.secimpact.io/effective-at). Import the catalog as it was before a
re-organisation with an early date, and as it is after with the re-org's
date: transform attributes each finding and deployment to the team that
owned its service at the time. For the first import, give a date before the
history you import, or earlier findings have no team.`,
		Example: `  impact catalog import catalog/*.yaml --effective-at 2025-01-01 --mapping mapping.yaml
  impact catalog import catalog-after-reorg/*.yaml --effective-at 2026-05-01
  impact catalog import .github/CODEOWNERS --repo acme/payments --effective-at 2025-01-01
  impact catalog import ownership.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o catalog.Options
			if effective != "" {
				t, err := time.Parse(time.DateOnly, effective)
				if err != nil {
					return fmt.Errorf("catalog import: --effective-at: want YYYY-MM-DD: %w", err)
				}
				o.EffectiveAt = t
			}
			o.Repo = repository
			files, err := exportFiles(args)
			if err != nil {
				return fmt.Errorf("catalog import: %w", err)
			}
			src := importer.Source{Name: "catalog", Import: func(ctx context.Context, fs []export.File, m *mapping.File, emit func(export.Outcome) error) error {
				return catalog.Import(ctx, fs, m, o, emit)
			}}
			return runImport(cmd, src, files, flags)
		},
	}
	addImportFlags(cmd, &flags)
	cmd.Flags().StringVar(&effective, "effective-at", "", "date the ownership in the files took effect, YYYY-MM-DD (UTC)")
	cmd.Flags().StringVar(&repository, "repo", "", "the GitHub repository (owner/name) a CODEOWNERS file belongs to")
	parent.AddCommand(cmd)
	rootCmd.AddCommand(parent)
}
