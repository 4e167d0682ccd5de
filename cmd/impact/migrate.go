package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas/migrations"
)

func init() {
	var cluster string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the ClickHouse migrations (idempotent; --cluster NAME for replicated DDL)",
		Long: `Applies the ClickHouse migrations embedded in this binary that the database
has not seen yet, creating the database first. A second run reports
"nothing to do"; concurrent runs wait for each other.

With --cluster NAME the DDL runs ON CLUSTER NAME with Replicated*MergeTree
tables named <table>_local behind Distributed tables named <table> (the
servers need ZooKeeper/Keeper and the {shard} and {replica} macros). The
ALTERs of <table>_local run on one replica of each shard instead (the
servers of system.clusters, reached with this command's credentials):
replication carries them to the other replicas.
--dry-run prints the statements that would run and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := migrations.Options{Database: cfg.ClickHouse.DB(), Cluster: cluster, DryRun: dryRun}
			return runMigrate(cmd.Context(), cmd.OutOrStdout(), cfg.ClickHouse, opts)
		},
	}
	addClickHouseFlags(cmd)
	cmd.Flags().StringVar(&cluster, "cluster", "", "emit ON CLUSTER NAME DDL with Replicated and Distributed tables")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the statements that would run; change nothing")
	rootCmd.AddCommand(cmd)
}

func runMigrate(ctx context.Context, out io.Writer, ch config.ClickHouse, opts migrations.Options) error {
	where := fmt.Sprintf("%s/%s", ch.Addr, ch.DB())
	if opts.Cluster != "" && opts.Dial == nil {
		// The other servers of the cluster, with the same credentials
		// and database (see migrations.Options.Dial).
		opts.Dial = func(ctx context.Context, addr string) (driver.Conn, error) {
			c := ch
			c.Addr = addr
			return chconn.Open(ctx, c)
		}
	}
	if opts.DryRun {
		exists, err := chconn.DatabaseExists(ctx, ch)
		if err != nil {
			return err
		}
		var r migrations.Result
		if exists {
			conn, err := chconn.Open(ctx, ch)
			if err != nil {
				return err
			}
			defer conn.Close()
			if r, err = migrations.Apply(ctx, conn, opts); err != nil {
				return fmt.Errorf("migrate %s: %w", where, err)
			}
		} else {
			// Nothing exists yet: everything would run, in the form this
			// server runs it (a cluster of 18.16 servers: no comments).
			admin := ch
			admin.Database = "default"
			conn, err := chconn.Open(ctx, admin)
			if err != nil {
				return err
			}
			defer conn.Close()
			stmts, err := migrations.StatementsFor(ctx, conn, opts)
			if err != nil {
				return err
			}
			all, err := migrations.Load(nil)
			if err != nil {
				return err
			}
			r = migrations.Result{Applied: all, Statements: append([]string{"CREATE DATABASE IF NOT EXISTS " + ch.DB()}, stmts...), DryRun: true}
		}
		for _, s := range r.Statements {
			fmt.Fprintf(out, "%s;\n\n", s)
		}
		fmt.Fprintf(out, "-- migrate %s (dry run): %s\n", where, r)
		return nil
	}
	if err := chconn.EnsureDatabase(ctx, ch); err != nil {
		return err
	}
	conn, err := chconn.Open(ctx, ch)
	if err != nil {
		return err
	}
	defer conn.Close()
	r, err := migrations.Apply(ctx, conn, opts)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", where, err)
	}
	fmt.Fprintf(out, "migrate %s: %s\n", where, r)
	return nil
}
