package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/query"
	"github.com/secimpact/impact/internal/readonly"
)

func init() {
	var (
		format  string
		file    string
		limit   int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   `query ["SQL" | -]`,
		Short: "Run read-only ad hoc SQL against the analyst tables",
		Long: `Runs one SQL statement with ClickHouse's readonly=1 setting, so the server
refuses INSERT, ALTER, CREATE, DROP and every other write, every table function
that reaches a file, a URL or another server (url, remote, file, s3, mysql, ...)
and every setting change (SET, SETTINGS) that could lift a limit. SQL comes from
the argument, from --file, or from standard input ("-" or no argument).

Connects as IMPACT_CLICKHOUSE_USER (use the read-only impact_reader user in
production) to IMPACT_CLICKHOUSE_ADDR, database IMPACT_CLICKHOUSE_DATABASE.`,
		Example: `  impact query "SELECT review_bucket, count() AS deals, avg(won) AS win_rate FROM deal_facts GROUP BY review_bucket"
  impact query --format csv --file question.sql > answer.csv
  echo "SELECT * FROM impact_stats" | impact query --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sql, err := readSQL(args, file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			conn, err := chconn.Open(ctx, cfg.ClickHouse)
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := query.Run(ctx, conn, sql, cmd.OutOrStdout(), query.Options{
				Format: query.Format(format), Limit: limit, Timeout: timeout,
			})
			if err != nil {
				return err
			}
			if res.Truncated {
				fmt.Fprintf(cmd.ErrOrStderr(), "(output stopped at %d rows; use --limit to change)\n", res.Rows)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "table", "output format: table, csv or json")
	f.StringVarP(&file, "file", "f", "", "read the SQL from this file")
	f.IntVar(&limit, "limit", 10000, "print at most this many rows (-1: no limit)")
	f.DurationVar(&timeout, "timeout", query.DefaultTimeout, fmt.Sprintf("give up on the query after this long (at most %s)", readonly.MaxExecutionTime))
	addClickHouseFlags(cmd)
	rootCmd.AddCommand(cmd)
}

// maxSQL bounds the SQL text read from a file or standard input: an
// analyst's statement is kilobytes; a mistaken pipe of a data file is not
// held in memory and sent to the server.
const maxSQL = 1 << 20

func readSQL(args []string, file string, stdin io.Reader) (string, error) {
	from := "standard input"
	switch {
	case file != "" && len(args) > 0:
		return "", fmt.Errorf("give the SQL either as an argument or with --file, not both")
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("read SQL file: %w", err)
		}
		defer f.Close()
		stdin, from = f, file
	case len(args) == 1 && args[0] != "-":
		return args[0], nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxSQL+1))
	if err != nil {
		return "", fmt.Errorf("read SQL from %s: %w", from, err)
	}
	if len(b) > maxSQL {
		return "", fmt.Errorf("read SQL from %s: longer than %d bytes", from, maxSQL)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("no SQL given: pass it as an argument, with --file, or on standard input")
	}
	return string(b), nil
}
