package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/ingest/gateway/bench"
)

func init() {
	var (
		opts       bench.Options
		asJSON     bool
		cpuprofile string
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Send signed webhooks over loopback to a gateway and report requests/s and latency",
		Long: `bench gateway starts 'impact gateway' in this process (publishing to the Kafka of
--brokers / IMPACT_KAFKA_BROKERS, else an embedded one it starts), then sends
--requests signed webhooks (GitHub, GitLab, PagerDuty and Zendesk deliveries)
from --concurrency keep-alive clients over loopback, for at most --max-duration.
Each latency is from sending a request to reading its answer, which the gateway
sends only after Kafka acknowledged the delivery (acks=all). Target: at least
5,000 requests/s with p99 under 50 ms.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Kafka = cfg.Kafka
			gatewayGC() // as impact gateway runs
			if cpuprofile != "" {
				f, err := os.Create(cpuprofile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := bench.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "%d signed webhooks from %d clients in %.2f s (%s Kafka, %d CPUs), %d events published\n",
				res.Requests, res.Concurrency, res.Seconds, res.KafkaMode, res.CPUs, res.Events)
			fmt.Fprintf(out, "throughput  %8.0f requests/s (target >= 5,000)\n", res.RPS)
			fmt.Fprintf(out, "latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (target < 50), max %.2f ms\n", res.P50MS, res.P90MS, res.P99MS, res.MaxMS)
			fmt.Fprintf(out, "CPU         %.2f s of this process; load average (1 min) at the end %.1f\n", res.CPUSeconds, res.LoadAverage)
			return nil
		},
	}
	addKafkaFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&opts.Requests, "requests", 20_000, "requests to send")
	f.IntVar(&opts.Concurrency, "concurrency", 32, "concurrent clients")
	f.DurationVar(&opts.MaxDuration, "max-duration", 2*time.Minute, "stop sending after this long")
	f.DurationVar(&opts.Linger, "linger", 0, "the gateway's --linger (default the gateway's)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (rps, p50_ms, p99_ms, ...)")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a Go CPU profile of the run (clients and gateway) to this file")
	benchParent().AddCommand(cmd)
}

// printJSON writes v as indented JSON: the --json output of the bench and
// replay commands.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// benchParent returns the `impact bench` command, which bench.go (bench
// ingest) registers; files initialise in name order, so it exists by the
// time the other bench files run. It is created only if that file is gone.
func benchParent() *cobra.Command {
	for _, c := range rootCmd.Commands() {
		if c.Name() == "bench" {
			return c
		}
	}
	parent := &cobra.Command{Use: "bench", Short: "Benchmarks"}
	rootCmd.AddCommand(parent)
	return parent
}
