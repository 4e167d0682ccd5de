package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/simulate"
)

func init() {
	var (
		opts      simulate.Options
		end       string
		out       string
		truthPath string
		binary    bool
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate an organisation's event streams with planted effects, to Kafka or a JSON Lines file",
		Long: `simulate generates a deterministic organisation (seeded) and its security,
deployment, CRM, support and catalog CloudEvents over --days days ending at
--end, with planted effects and delivery mess (late, out-of-order, duplicate
and invalid events; see docs/simulation.md). With --out it writes JSON Lines
in delivery order; otherwise it publishes to Kafka. --truth writes the
realised ground truth the analyst tables must reproduce.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if end != "" {
				t, err := parseEnd(end)
				if err != nil {
					return err
				}
				opts.End = t
			}
			start := time.Now()
			var truth *simulate.Truth
			var err error
			if out != "" {
				truth, err = simulateToFile(cmd, out, opts)
			} else {
				truth, err = simulateToKafka(cmd, opts, binary)
			}
			if err != nil {
				return err
			}
			el := time.Since(start)
			slog.Info("simulated", "lines", truth.Delivery.Lines, "valid_events", truth.Delivery.ValidEvents,
				"duplicates", truth.Delivery.Duplicates, "invalid", truth.Delivery.Invalid,
				"elapsed", el.Round(time.Millisecond), "lines_per_s", int(float64(truth.Delivery.Lines)/el.Seconds()))
			if truthPath != "" {
				b, err := json.MarshalIndent(truth, "", "  ")
				if err != nil {
					return fmt.Errorf("encode truth: %w", err)
				}
				if err := os.WriteFile(truthPath, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("write truth: %w", err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&opts.Seed, "seed", 0, "random seed; the same options give byte-identical output")
	f.IntVar(&opts.Days, "days", 365, "days simulated")
	f.StringVar(&end, "end", "", "end of the simulated window, YYYY-MM-DD or RFC 3339 (default "+simulate.DefaultEnd.Format("2006-01-02")+")")
	f.Float64Var(&opts.Scale, "scale", 1, "volume multiplier (1: about 216k lines over 365 days; 47: about 10 million)")
	f.StringVar(&out, "out", "", "write JSON Lines to this file ('-' for stdout) instead of publishing to Kafka")
	f.StringVar(&truthPath, "truth", "", "write the realised ground truth (JSON) to this file")
	f.BoolVar(&binary, "binary", false, "publish in CloudEvents binary mode (Kafka only)")
	addKafkaFlags(cmd)
	rootCmd.AddCommand(cmd)
}

func parseEnd(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse --end %q: want YYYY-MM-DD or RFC 3339", s)
	}
	return t, nil
}

func simulateToFile(cmd *cobra.Command, path string, opts simulate.Options) (*simulate.Truth, error) {
	if path == "-" {
		return simulate.WriteJSONL(cmd.Context(), cmd.OutOrStdout(), opts)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	truth, err := simulate.WriteJSONL(cmd.Context(), f, opts)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", path, cerr)
	}
	return truth, err
}

// simulateToKafka publishes through the same path as `impact publish`
// (simulate.Publish), creating the contract's topics first where missing.
func simulateToKafka(cmd *cobra.Command, opts simulate.Options, binary bool) (*simulate.Truth, error) {
	if len(cfg.Kafka.Brokers) == 0 {
		return nil, fmt.Errorf("no Kafka brokers: set --brokers or IMPACT_KAFKA_BROKERS, or use --out FILE")
	}
	if admin, err := kafkaio.NewAdmin(cfg.Kafka); err == nil {
		topics := append(cfg.Kafka.Topics.Sources(), cfg.Kafka.Topics.DLQTopic())
		if err := admin.CreateTopics(cmd.Context(), topics, 0); err != nil {
			slog.Warn("simulate: could not create topics; publishing anyway", "topics", topics, "err", err)
		}
		admin.Close()
	}
	w, err := kafkaio.NewWriter(cfg.Kafka)
	if err != nil {
		return nil, fmt.Errorf("kafka writer: %w", err)
	}
	truth, stats, err := simulate.Publish(cmd.Context(), w, opts, kafkaio.PublishOptions{Topics: cfg.Kafka.Topics, Binary: binary})
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("flush kafka writer: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	slog.Info("published", "stats", stats.String())
	return truth, nil
}
