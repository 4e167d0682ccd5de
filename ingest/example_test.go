package ingest_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/config"
)

// Run an ingester until SIGINT/SIGTERM; connection settings from IMPACT_*.
func ExampleRun() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := config.FromEnv()
	err := ingest.Run(ctx, ingest.Config{
		Kafka:      env.Kafka,
		ClickHouse: env.ClickHouse,
		Listen:     ingest.DefaultListen,
		Logger:     slog.Default(),
	})
	if err != nil {
		slog.Error("ingest", "err", err)
	}
}

// Drain: consume everything present now, store and commit it, then return.
func ExampleRun_drain() {
	env := config.FromEnv()
	err := ingest.Run(context.Background(), ingest.Config{
		Kafka:      env.Kafka,
		ClickHouse: env.ClickHouse,
		GroupID:    "backfill-2026-q1",
		Drain:      true,
	})
	if err != nil {
		slog.Error("drain", "err", err)
	}
}
