package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/kafkaio"
)

// publish exists for backfills and exports: events kept as JSON Lines (what
// `impact simulate --out` writes) go to Kafka exactly as a source would send
// them, so ingest is exercised end to end.
func init() {
	var binary, asJSON, createTopics bool
	var chunk int
	cmd := &cobra.Command{
		Use:   "publish FILE.jsonl",
		Short: "Publish CloudEvents from a JSON Lines file (- for stdin) to Kafka",
		Long: `Publish reads one structured-mode CloudEvent (a JSON object) per line and
writes it to the topic of its type family, keyed by its subject (else its id),
acknowledged by all in-sync replicas. Lines that are not CloudEvents JSON are
published unchanged to the security topic, so ingest rejects them to the DLQ.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInput(args[0])
			if err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			defer in.Close()
			// Fail fast with the real cause (refused, TLS, SASL) rather than
			// the writer's retries ending in "Broker Not Available".
			if err := kafkaio.Ping(cmd.Context(), cfg.Kafka); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			if createTopics {
				if err := ensureTopics(cmd.Context(), "publish"); err != nil {
					return err
				}
			}
			w, err := kafkaio.NewWriter(cfg.Kafka)
			if err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			stats, err := kafkaio.Publish(cmd.Context(), w, in, kafkaio.PublishOptions{
				Topics: cfg.Kafka.Topics, Binary: binary, ChunkSize: chunk,
			})
			if cerr := w.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("publish: flush writer: %w", cerr)
			}
			if asJSON {
				out := map[string]any{
					"published": stats.Published, "not_events": stats.NotEvents, "blank": stats.Blank,
					"bytes": stats.Bytes, "per_topic": stats.PerTopic, "seconds": stats.Elapsed.Seconds(),
				}
				if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(out); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), stats)
			}
			return err
		},
	}
	addKafkaFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&binary, "binary", false, "CloudEvents binary content mode (ce_* headers, data as the value) instead of structured mode")
	f.BoolVar(&asJSON, "json", false, "print the counts as JSON")
	f.BoolVar(&createTopics, "create-topics", true, "create the contract's topics first where missing (broker's default partition count)")
	f.IntVar(&chunk, "chunk", 5000, "messages handed to the Kafka writer at once")
	rootCmd.AddCommand(cmd)
}

// ensureTopics creates the contract's topics where missing: kafka-go's
// Writer fails the first write to a topic that does not exist yet, even
// with auto-creation on. A cluster that forbids creating them may still
// have them, so a refusal is only logged.
func ensureTopics(ctx context.Context, command string) error {
	admin, err := kafkaio.NewAdmin(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	defer admin.Close()
	topics := append(cfg.Kafka.Topics.Sources(), cfg.Kafka.Topics.DLQTopic())
	if err := admin.CreateTopics(ctx, topics, 0); err != nil {
		slog.Warn(command+": could not create topics; publishing anyway", "topics", topics, "err", err)
	}
	return nil
}
