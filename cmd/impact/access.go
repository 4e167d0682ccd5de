package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/access"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
)

// access gives every department a ClickHouse user that reads only its own
// numbers; provision --departments then points the department's Grafana
// data source at it.
func init() {
	var (
		opts   access.Options
		verify time.Duration
	)
	cmd := &cobra.Command{
		Use:   "access --secrets FILE --users-file FILE [--department NAME]... [--rotate NAME]... [--rotate-all]",
		Short: "Create or rotate one read-only ClickHouse user per department, reading only its own rows",
		Long: `access gives each department (every department the data names, or those given with
--department) a read-only ClickHouse user that reads only that department's rows:

  - transform keeps a copy of the department's rows of findings, deployment_facts,
    department_scorecard and impact_stats (its own figures) in a database of its own,
    <database>_dept_<slug>; access registers the department and fills it, and every
    impact transform refreshes it. deal_facts and ticket_facts carry no department and
    are not copied (docs/access.md).
  - the user impact_dept_<slug> may read that database alone, with the read-only
    impact_reader profile: on ClickHouse 18.16 through allow_databases (18.16 has no
    row filters), on current releases through GRANT SELECT on it.

Passwords are kept in the secrets file (YAML, mode 0600), created for new departments
and replaced with --rotate NAME or --rotate-all, and never printed. The users file, a
users.d file of the ClickHouse server holding only SHA-256 hashes, is rewritten when it
changes; the server reloads it within seconds. Connect as the writer (the user that
runs impact transform): creating the departments' databases needs its rights.

impact provision --departments --secrets FILE then creates, per department, a Grafana
team, folder, data source (this user) and the department's dashboard.`,
		Example: `  impact access --secrets /etc/impact/department-readers.yaml \
    --users-file /etc/clickhouse-server/users.d/impact-departments.xml --verify 30s
  impact access --secrets readers.yaml --users-file users.d/impact-departments.xml --rotate Sales`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAccess(cmd.Context(), cmd.OutOrStdout(), cfg.ClickHouse, opts, verify)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.SecretsFile, "secrets", "", "secrets file with the readers' passwords (YAML, mode 0600; created when missing)")
	f.StringVar(&opts.UsersFile, "users-file", "", "users.d file of the ClickHouse server to write")
	f.StringArrayVar(&opts.Departments, "department", nil, "department to give a reader (repeatable; default: every department the data names)")
	f.StringArrayVar(&opts.Rotate, "rotate", nil, "department whose password to replace (repeatable)")
	f.BoolVar(&opts.RotateAll, "rotate-all", false, "replace every department's password")
	f.DurationVar(&verify, "verify", 0, "after writing, wait up to this long until every reader can log in (the server must read the users file)")
	addClickHouseFlags(cmd)
	rootCmd.AddCommand(cmd)
}

func runAccess(ctx context.Context, w io.Writer, cc config.ClickHouse, opts access.Options, verify time.Duration) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()
	rep, err := access.Provision(ctx, conn, opts)
	for _, r := range rep.Readers {
		fmt.Fprintln(w, r)
	}
	if err != nil {
		return err
	}
	state := "unchanged"
	if rep.UsersFileChanged {
		state = "written"
	}
	fmt.Fprintf(w, "users file %s %s; %d rows in the departments' databases\n", opts.UsersFile, state, rep.SliceRows)
	if verify > 0 {
		s, err := access.LoadSecrets(opts.SecretsFile)
		if err != nil {
			return err
		}
		if err := access.WaitReaders(ctx, cc, s.Readers(cc.DB()), verify); err != nil {
			return err
		}
		fmt.Fprintf(w, "every reader logs in\n")
	}
	return nil
}
