package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/ingest/gateway"
	"github.com/secimpact/impact/internal/kafkaio"
)

// gateway: signed webhooks and CloudEvents over HTTP -> contract events on
// Kafka (ingest/gateway), and replays of the raw deliveries it kept.
func init() {
	var (
		gcfg         gateway.Config
		listen       string
		opsListen    string
		mappingFile  string
		tlsCert      string
		tlsKey       string
		createTopics bool
		shutdown     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Receive signed webhooks (GitHub, GitLab, PagerDuty, Zendesk, HubSpot) and CloudEvents over HTTP into Kafka",
		Long: `gateway serves POST /webhooks/{github,gitlab,pagerduty,zendesk,hubspot} and
POST /events (CloudEvents: structured, batch or binary mode), and /healthz,
/readyz, /metrics. Each source is enabled by its secret, from the environment or
a file (NAME_FILE):

  IMPACT_GITHUB_WEBHOOK_SECRET     GitHub webhook secret (X-Hub-Signature-256)
  IMPACT_GITLAB_WEBHOOK_SECRET     GitLab secret token (X-Gitlab-Token)
  IMPACT_PAGERDUTY_WEBHOOK_SECRET  PagerDuty V3 signing secret (X-PagerDuty-Signature)
  IMPACT_ZENDESK_WEBHOOK_SECRET    Zendesk webhook signing secret
  IMPACT_HUBSPOT_CLIENT_SECRET     HubSpot app client secret (X-HubSpot-Signature-v3),
                                   with IMPACT_HUBSPOT_ACCESS_TOKEN to read deals
  IMPACT_EVENTS_TOKEN              bearer token of POST /events

A source without its secret answers 404. Payloads map to contract events through
the mapping file (--mapping, IMPACT_MAPPING_FILE; docs/mapping.md); the original
body is also kept on raw.<source> for 'impact gateway replay'. Answers: 202
published, 200 nothing for the contract, 401 bad signature, 413 body too large,
429 rate limit, 503 Kafka unavailable (with Retry-After). See docs/gateway.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			gatewayGC()
			log := slog.Default()
			m, err := loadMapping(mappingFile)
			if err != nil {
				return err
			}
			gcfg.Kafka = cfg.Kafka
			gcfg.Mapping = m
			gcfg.Logger = log
			if err := gcfg.FromEnv(gateway.Env{}); err != nil {
				return fmt.Errorf("gateway: %w", err)
			}
			if pu := cmd.Flags().Lookup("public-url"); pu.Changed {
				gcfg.PublicURL = pu.Value.String()
			}
			g, err := gateway.New(gcfg)
			if err != nil {
				return err
			}
			defer func() {
				if err := g.Close(); err != nil {
					log.Error("gateway: flush kafka writer", "err", err)
				}
			}()
			if createTopics {
				if err := createGatewayTopics(cmd, g.Topics()); err != nil {
					log.Warn("gateway: could not create topics; they must exist", "topics", g.Topics(), "err", err)
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("gateway: listen: %w", err)
			}
			scheme := "http"
			if tlsCert != "" {
				scheme = "https"
			}
			log.Info("gateway: serving", "url", scheme+"://"+ln.Addr().String(), "sources", g.Enabled(), "mapping", m.String())
			opts := gateway.ServeOptions{CertFile: tlsCert, KeyFile: tlsKey, ShutdownTimeout: shutdown, Logger: log}
			if opsListen == "" {
				return gateway.Serve(cmd.Context(), ln, g.Handler(), opts)
			}
			ops, err := net.Listen("tcp", opsListen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("gateway: listen (ops): %w", err)
			}
			log.Info("gateway: health and metrics", "url", "http://"+ops.Addr().String())
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- gateway.Serve(ctx, ops, g.OpsHandler(), gateway.ServeOptions{ShutdownTimeout: shutdown, Logger: log})
			}()
			err = gateway.Serve(ctx, ln, g.WebhookHandler(), opts)
			cancel() // the probes go when the webhooks do
			if oerr := <-errc; err == nil {
				err = oerr
			}
			return err
		},
	}
	addKafkaFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&listen, "listen", envOr("IMPACT_GATEWAY_LISTEN", "127.0.0.1:8088"), "address to listen on (env IMPACT_GATEWAY_LISTEN)")
	f.StringVar(&opsListen, "ops-listen", os.Getenv("IMPACT_GATEWAY_OPS_LISTEN"), "serve /healthz, /readyz and /metrics on this separate plain-HTTP address instead of --listen (env IMPACT_GATEWAY_OPS_LISTEN)")
	f.StringVar(&mappingFile, "mapping", os.Getenv("IMPACT_MAPPING_FILE"), "mapping file (env IMPACT_MAPPING_FILE; default: every mapping default)")
	f.StringVar(&tlsCert, "tls-cert", os.Getenv("IMPACT_GATEWAY_TLS_CERT"), "TLS certificate (PEM); serve HTTPS with --tls-key (env IMPACT_GATEWAY_TLS_CERT)")
	f.StringVar(&tlsKey, "tls-key", os.Getenv("IMPACT_GATEWAY_TLS_KEY"), "TLS private key (PEM) (env IMPACT_GATEWAY_TLS_KEY)")
	f.String("public-url", "", "scheme://host senders use to reach the gateway, for HubSpot's signature behind a proxy (env IMPACT_GATEWAY_PUBLIC_URL)")
	f.Int64Var(&gcfg.MaxBodyBytes, "max-body-bytes", 1<<20, "largest request body accepted (413 above)")
	f.Float64Var(&gcfg.RateLimit, "rate-limit", 200, "requests per second per source (429 above); negative disables")
	f.IntVar(&gcfg.RateBurst, "rate-burst", 0, "burst per source (default twice --rate-limit)")
	f.DurationVar(&gcfg.PublishTimeout, "publish-timeout", 10*time.Second, "wait at most this for Kafka's acknowledgement, then answer 503")
	f.DurationVar(&gcfg.Linger, "linger", 0, "wait this long after a request to gather more into its Kafka write (default 0: a write goes as soon as the previous one is acknowledged)")
	f.DurationVar(&shutdown, "shutdown-timeout", 30*time.Second, "on SIGTERM, wait this long for in-flight requests")
	f.BoolVar(&createTopics, "create-topics", true, "create the contract and raw topics first where missing")
	cmd.AddCommand(replayCmd())
	rootCmd.AddCommand(cmd)
}

func replayCmd() *cobra.Command {
	var (
		opts        gateway.ReplayOptions
		from, to    string
		mappingFile string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "replay --source SOURCE [--from DATE] [--to DATE]",
		Short: "Re-map the raw deliveries kept on raw.<source> through the current mapping file",
		Long: `replay reads the deliveries the gateway kept unchanged on raw.<source> that
arrived in [--from, --to), maps them through the current mapping file and
publishes the events. Unchanged events get their old ids (no duplicates);
corrected ones replace the old. Dates are RFC 3339 or YYYY-MM-DD (UTC).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.From, err = parseDate(from); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			if opts.To, err = parseDate(to); err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			m, err := loadMapping(mappingFile)
			if err != nil {
				return err
			}
			rcfg := gateway.Config{Kafka: cfg.Kafka, Mapping: m}
			if err := rcfg.FromEnv(gateway.Env{}); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			st, err := gateway.Replay(cmd.Context(), rcfg, opts, slog.Default())
			out := cmd.OutOrStdout()
			if asJSON {
				if jerr := printJSON(out, st); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				verb := "published"
				if opts.DryRun {
					verb = "mapped (dry run)"
				}
				fmt.Fprintf(out, "read %d deliveries: %d mapped, %d ignored, %d unmapped, %d invalid; %d events %s\n",
					st.Read, st.Mapped, st.Ignored, st.Unmapped, st.Invalid, st.Events, verb)
				for _, s := range st.Suggested {
					fmt.Fprintln(out, "  add to the mapping file:", s)
				}
			}
			return err
		},
	}
	addKafkaFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.Source, "source", "", "source to replay: github, gitlab, pagerduty, zendesk or hubspot")
	f.StringVar(&from, "from", "", "first arrival time to replay (default: the topic's start)")
	f.StringVar(&to, "to", "", "replay deliveries that arrived before this (default: all)")
	f.StringVar(&mappingFile, "mapping", os.Getenv("IMPACT_MAPPING_FILE"), "mapping file (env IMPACT_MAPPING_FILE)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "map and count without publishing")
	f.BoolVar(&asJSON, "json", false, "print the counts as JSON")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

// gatewayGC lets the heap grow to five times what is live before a
// collection (GOGC=400) unless GOGC is set: the gateway keeps a few MB
// live and allocates tens of KB per request, so the default collected
// every few hundred requests and cost a fifth of its CPU (the benchmark:
// 205 -> 164 us of CPU a request), for a heap still of tens of MB.
func gatewayGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

// createGatewayTopics creates the contract and raw topics where missing
// (the broker's partition count).
func createGatewayTopics(cmd *cobra.Command, topics []string) error {
	admin, err := kafkaio.NewAdmin(cfg.Kafka)
	if err != nil {
		return err
	}
	defer admin.Close()
	return admin.CreateTopics(cmd.Context(), topics, 0)
}
