// Command impact makes the business impact of security work visible: it
// ingests security, deployment, CRM and support events from Kafka into
// ClickHouse, derives joined fact tables and statistics, and publishes Grafana
// dashboards and an executive brief.
//
// Each subcommand lives in its own file and registers itself on rootCmd in
// init, so the data flow (simulate/publish -> ingest -> transform ->
// dashboards/report) can be read file by file.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/config"
)

var rootCmd = &cobra.Command{
	Use:           "impact",
	Short:         "Make the business impact of security work visible",
	SilenceUsage:  true,
	SilenceErrors: true,
	// The shared connection settings, environment and flags both applied,
	// are checked once before any command connects anywhere.
	PersistentPreRunE: func(*cobra.Command, []string) error { return cfg.Validate() },
}

// cfg is filled from the environment before any subcommand runs; subcommand
// flags override it.
var cfg = config.FromEnv()

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "impact:", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}
