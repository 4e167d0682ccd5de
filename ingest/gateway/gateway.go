// Package gateway is `impact gateway`: an HTTP server turning signed
// webhooks of GitHub, GitLab, PagerDuty, Zendesk and HubSpot, and
// CloudEvents posted to /events, into contract events on Kafka.
//
// Per request: the source must be enabled (its secret configured, else
// 404), within its rate limit (429) and body cap (413); the signature is
// checked on the raw body before anything is parsed (401); the source's
// mapper (ingest/sources/<source>) turns the payload into contract events;
// the original body goes to the source's raw topic (raw.<source>, for
// `impact gateway replay`) and the events to their contract topics, keyed
// by entity id, in one write acknowledged by all in-sync replicas. Only
// then the answer: 202 when events were published, 200 when the delivery
// carried nothing for the contract (ignored, or a picklist value the
// mapping file lacks), 503 with Retry-After when Kafka (or a vendor API the
// mapper needs) is unavailable, so the sender retries and nothing is lost.
// Event ids derive from the source's change or delivery ids, so a retried
// delivery is the same events.
package gateway

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/schemas"
)

// Gateway serves the webhook endpoints. Build it with New, serve Handler
// (or Serve), and Close it to flush the Kafka writer.
type Gateway struct {
	cfg      Config
	m        *mapping.File
	log      *slog.Logger
	now      func() time.Time
	prod     *producer
	rounds   *rounds
	metrics  *metrics
	sources  map[string]*source
	limiters map[string]*rate.Limiter
	kafkaOK  atomic.Bool
	stop     context.CancelFunc
	done     chan struct{}
}

// New validates cfg and returns a Gateway writing to cfg.Kafka. It does not
// wait for Kafka: requests answer 503 until Kafka acknowledges.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := kafkaio.Transport(cfg.Kafka)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// Temporary errors are retried until the request's PublishTimeout
	// (rounds.go); then the sender retries the whole delivery after a 503.
	prod := &producer{addr: kafka.TCP(cfg.Kafka.Brokers...), transport: tr, timeout: cfg.publishTimeout()}
	g := &Gateway{
		cfg:      cfg,
		m:        cfg.Mapping,
		log:      cfg.Logger,
		now:      cfg.Now,
		prod:     prod,
		rounds:   newRounds(prod, cfg.publishTimeout(), cfg.Linger),
		metrics:  newMetrics(),
		limiters: map[string]*rate.Limiter{},
		done:     make(chan struct{}),
	}
	if g.m == nil {
		g.m = &mapping.File{}
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.sources = g.buildSources()
	r, b := cfg.rate()
	for _, s := range append(Sources, Events) {
		lim := rate.NewLimiter(rate.Limit(r), b)
		if r < 0 {
			lim = rate.NewLimiter(rate.Inf, 0)
		}
		g.limiters[s] = lim
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	go g.watchKafka(ctx)
	return g, nil
}

// Enabled lists the enabled sources (events included when /events is).
func (g *Gateway) Enabled() []string {
	var out []string
	for _, s := range append(Sources, Events) {
		if g.cfg.Secrets.of(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// Topics lists the topics the gateway writes: the contract topics and the
// raw topic of every enabled webhook source.
func (g *Gateway) Topics() []string {
	out := g.cfg.Kafka.Topics.Sources()
	for _, s := range Sources {
		if g.cfg.Secrets.of(s) != "" {
			out = append(out, g.cfg.RawTopic(s))
		}
	}
	return out
}

// KafkaStats returns the produce requests sent and the messages they
// carried since the previous call, for benchmarks.
func (g *Gateway) KafkaStats() ProduceStats { return g.prod.stats() }

// Close stops the readiness probe and flushes and closes the Kafka writer.
// Call it after the HTTP server has finished its requests.
func (g *Gateway) Close() error {
	g.stop()
	<-g.done
	g.rounds.close()
	g.prod.transport.CloseIdleConnections()
	return nil
}

// watchKafka keeps readiness current when no request tells.
func (g *Gateway) watchKafka(ctx context.Context) {
	defer close(g.done)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		g.kafkaOK.Store(kafkaio.Ping(pctx, g.cfg.Kafka) == nil)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handler returns every route: WebhookHandler's and OpsHandler's.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	g.webhookRoutes(mux)
	g.opsRoutes(mux)
	return mux
}

// WebhookHandler serves what senders call: POST /webhooks/{source} and
// POST /events.
func (g *Gateway) WebhookHandler() http.Handler {
	mux := http.NewServeMux()
	g.webhookRoutes(mux)
	return mux
}

// OpsHandler serves what probes and Prometheus call: GET /healthz (the
// process is alive), /readyz (Kafka reachable) and /metrics; serve it on a
// separate, internal address to keep them off the public webhook port.
func (g *Gateway) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	g.opsRoutes(mux)
	return mux
}

func (g *Gateway) webhookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /webhooks/{source}", func(w http.ResponseWriter, r *http.Request) {
		g.serveWebhook(w, r, r.PathValue("source"))
	})
	mux.HandleFunc("POST /events", g.serveEvents)
}

func (g *Gateway) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !g.kafkaOK.Load() {
			http.Error(w, "kafka unreachable\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
}

// reply is the JSON answer of the webhook endpoints.
type reply struct {
	Outcome  string          `json:"outcome"`
	Events   int             `json:"events,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Unmapped []unmappedReply `json:"unmapped,omitempty"`
	Error    string          `json:"error,omitempty"`
}

type unmappedReply struct {
	Key        string `json:"key"`
	Value      string `json:"value"`
	Suggestion string `json:"suggestion"`
}

func (g *Gateway) answer(w http.ResponseWriter, source string, code int, rep reply) {
	g.metrics.requests.WithLabelValues(source, rep.Outcome).Inc()
	w.Header().Set("Content-Type", "application/json")
	switch code {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	case http.StatusServiceUnavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "30")
		}
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}

// reject answers 401 for a failed authentication.
func (g *Gateway) reject(w http.ResponseWriter, r *http.Request, source string, err error) {
	g.log.Warn("gateway: request rejected", "source", source, "remote", r.RemoteAddr, "reason", err)
	g.answer(w, source, http.StatusUnauthorized, reply{Outcome: "unauthorized", Error: err.Error()})
}

// checkEncoding refuses a compressed body (415): no vendor compresses
// webhooks, and a signature over compressed bytes would leave the mapper
// unable to read them.
func (g *Gateway) checkEncoding(w http.ResponseWriter, r *http.Request, source string) bool {
	for _, v := range r.Header.Values("Content-Encoding") {
		if e := strings.TrimSpace(strings.ToLower(v)); e != "" && e != "identity" {
			g.answer(w, source, http.StatusUnsupportedMediaType, reply{Outcome: "unsupported", Error: "Content-Encoding " + v + " is not accepted: send the body uncompressed"})
			return false
		}
	}
	return true
}

// readBody reads at most the cap; ok is false after an answer was sent. A
// declared length over the cap is refused before reading anything.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, source string) ([]byte, bool) {
	if r.ContentLength > g.cfg.maxBody() {
		w.Header().Set("Connection", "close")
		g.answer(w, source, http.StatusRequestEntityTooLarge, reply{Outcome: "too_large", Error: fmt.Sprintf("body over %d bytes", g.cfg.maxBody())})
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.maxBody()))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			g.answer(w, source, http.StatusRequestEntityTooLarge, reply{Outcome: "too_large", Error: fmt.Sprintf("body over %d bytes", g.cfg.maxBody())})
		} else {
			g.answer(w, source, http.StatusBadRequest, reply{Outcome: "bad_request", Error: "read body: " + err.Error()})
		}
		return nil, false
	}
	return body, true
}

// admit applies the source's rate limit; false after a 429 was sent.
func (g *Gateway) admit(w http.ResponseWriter, source string) bool {
	if !g.limiters[source].Allow() {
		g.answer(w, source, http.StatusTooManyRequests, reply{Outcome: "rate_limited", Error: "rate limit of " + source + " exceeded"})
		return false
	}
	return true
}

func (g *Gateway) serveWebhook(w http.ResponseWriter, r *http.Request, name string) {
	start := time.Now()
	g.metrics.inFlight.Inc()
	defer g.metrics.inFlight.Dec()
	src, ok := g.sources[name]
	if !ok || g.cfg.Secrets.of(name) == "" {
		// Disabled and unknown sources look alike: nothing to probe.
		g.answer(w, "unknown", http.StatusNotFound, reply{Outcome: "not_found", Error: "no such webhook endpoint"})
		return
	}
	defer func() { g.metrics.duration.WithLabelValues(name).Observe(time.Since(start).Seconds()) }()
	if !g.admit(w, name) {
		return
	}
	now := g.now()
	secret := g.cfg.Secrets.of(name)
	// What the headers alone decide comes before the body is read: an
	// unsigned or stale request costs no body buffering.
	if !g.checkEncoding(w, r, name) {
		return
	}
	if err := src.check(secret, r, now); err != nil {
		g.reject(w, r, name, err)
		return
	}
	body, ok := g.readBody(w, r, name)
	if !ok {
		return
	}
	if err := src.verify(secret, r, body, now); err != nil {
		g.reject(w, r, name, err)
		return
	}
	meta := src.meta(r.Header)
	res, err := src.mapFn(r.Context(), meta, body, now)
	var ue *upstreamError
	if errors.As(err, &ue) {
		if ue.retryAfter != "" {
			w.Header().Set("Retry-After", ue.retryAfter)
		}
		g.log.Warn("gateway: vendor API unavailable", "source", name, "err", err)
		g.answer(w, name, http.StatusServiceUnavailable, reply{Outcome: "unavailable", Error: err.Error()})
		return
	}
	var msgs []kafka.Message
	if err == nil {
		msgs, err = g.messages(name, meta, body, now, res.Events)
	}
	if err != nil {
		// The payload is authentic but not what the mapper knows, or it
		// gave an event the contract refuses: keep it on the raw topic alone
		// (a corrected mapper replays it), then say so.
		res = sources.Result{}
		msgs, _ = g.messages(name, meta, body, now, nil)
	}
	if perr := g.publish(r.Context(), name, msgs); perr != nil {
		g.answer(w, name, http.StatusServiceUnavailable, reply{Outcome: "unavailable", Error: "kafka: " + perr.Error()})
		return
	}
	if err != nil {
		g.metrics.results.WithLabelValues(name, "invalid").Inc()
		g.log.Warn("gateway: payload not mapped; kept on the raw topic", "source", name, "err", err)
		g.answer(w, name, http.StatusBadRequest, reply{Outcome: "bad_request", Error: err.Error(),
			Reason: "the payload is kept on the raw topic for `impact gateway replay`"})
		return
	}
	g.count(name, res)
	switch res.Outcome() {
	case "mapped":
		rep := reply{Outcome: "accepted", Events: len(res.Events)}
		rep.Unmapped = unmappedReplies(res.Unmapped)
		g.answer(w, name, http.StatusAccepted, rep)
	case "unmapped":
		g.answer(w, name, http.StatusOK, reply{Outcome: "unmapped", Unmapped: unmappedReplies(res.Unmapped),
			Reason: "values the mapping file does not cover; the raw payload is kept for `impact gateway replay`"})
	default:
		g.answer(w, name, http.StatusOK, reply{Outcome: "ignored", Reason: res.Ignored})
	}
}

func unmappedReplies(us []sources.Unmapped) []unmappedReply {
	var out []unmappedReply
	for _, u := range us {
		out = append(out, unmappedReply{Key: u.Key, Value: u.Value, Suggestion: u.Suggestion()})
	}
	return out
}

func (g *Gateway) count(source string, res sources.Result) {
	g.metrics.results.WithLabelValues(source, res.Outcome()).Inc()
	for _, ev := range res.Events {
		g.metrics.events.WithLabelValues(source, ev.Type).Inc()
	}
	for _, u := range res.Unmapped {
		g.metrics.unmapped.WithLabelValues(source, u.Key).Inc()
		g.log.Warn("gateway: value not in the mapping file", "source", source, "key", u.Key, "value", u.Value, "add", u.Suggestion())
	}
}

// Headers of raw-topic messages besides the vendor's own.
const (
	headerReceived    = "impact-received-at" // RFC 3339 arrival time
	headerContentType = "content-type"
)

// messages builds the raw message of the delivery and one message per
// event; an event that cannot be encoded or that the contract refuses is
// an error.
func (g *Gateway) messages(source string, meta http.Header, body []byte, received time.Time, events []sources.Event) ([]kafka.Message, error) {
	raw := kafka.Message{
		Topic: g.cfg.RawTopic(source),
		Key:   []byte(deliveryKey(meta, body)),
		Value: body,
		Time:  received,
		Headers: []kafka.Header{
			{Key: headerContentType, Value: []byte("application/json")},
			{Key: headerReceived, Value: []byte(received.UTC().Format(time.RFC3339Nano))},
		},
	}
	for k, vs := range meta {
		for _, v := range vs {
			raw.Headers = append(raw.Headers, kafka.Header{Key: strings.ToLower(k), Value: []byte(v)})
		}
	}
	evs, err := g.eventMessages(events)
	if err != nil {
		return nil, err
	}
	return append([]kafka.Message{raw}, evs...), nil
}

// eventMessages encodes and checks events (eventMessage).
func (g *Gateway) eventMessages(events []sources.Event) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, 0, len(events))
	for _, ev := range events {
		m, err := g.eventMessage(ev)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// eventMessage encodes a mapped event and checks it with the decoder
// ingest uses: the gateway never publishes an event ingest would reject.
func (g *Gateway) eventMessage(ev sources.Event) (kafka.Message, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	if _, err := schemas.Decode(b, nil); err != nil {
		return kafka.Message{}, fmt.Errorf("mapped %s %s: %w", ev.Type, ev.ID, err)
	}
	return kafka.Message{
		Topic:   g.cfg.Kafka.Topics.ForType(ev.Type),
		Key:     []byte(ev.Key()),
		Value:   b,
		Headers: []kafka.Header{{Key: headerContentType, Value: []byte(schemas.StructuredContentType)}},
	}, nil
}

// deliveryKey keys a raw message: the vendor's delivery id when it sends
// one, else a hash of the body.
func deliveryKey(meta http.Header, body []byte) string {
	for _, h := range []string{"X-Github-Delivery", "X-Gitlab-Event-Uuid", "X-Zendesk-Webhook-Invocation-Id"} {
		if v := meta.Get(h); v != "" {
			return v
		}
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// publish writes msgs and waits for the acknowledgement of all in-sync
// replicas, at most PublishTimeout.
func (g *Gateway) publish(ctx context.Context, source string, msgs []kafka.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.publishTimeout())
	defer cancel()
	start := time.Now()
	err := g.rounds.publish(ctx, msgs)
	if err != nil {
		g.kafkaOK.Store(false)
		g.log.Error("gateway: publish failed; answering 503", "source", source, "messages", len(msgs), "err", err)
		return err
	}
	g.kafkaOK.Store(true)
	g.metrics.publish.WithLabelValues(source).Observe(time.Since(start).Seconds())
	return nil
}

// upstreamError marks a vendor API failure during mapping (503: retry).
type upstreamError struct {
	err        error
	retryAfter string
}

func (e *upstreamError) Error() string { return e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// Serve serves h on ln until ctx is done, then shuts down gracefully: no
// new connections, in-flight requests finish (at most shutdownTimeout).
// With certFile and keyFile it serves TLS (1.2 or later).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cmp.Or(opts.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       cmp.Or(opts.ReadTimeout, 30*time.Second),
		WriteTimeout:      cmp.Or(opts.WriteTimeout, 30*time.Second),
		IdleTimeout:       cmp.Or(opts.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    64 << 10,
	}
	if opts.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn)
	}
	errc := make(chan error, 1)
	go func() {
		if opts.CertFile != "" {
			srv.TLSConfig = tlsConfig()
			errc <- srv.ServeTLS(ln, opts.CertFile, opts.KeyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cmp.Or(opts.ShutdownTimeout, 30*time.Second))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Validate names the first bad field: a negative timeout is an error, not
// silently the default, and TLS needs both files.
func (o ServeOptions) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"ReadHeaderTimeout", o.ReadHeaderTimeout}, {"ReadTimeout", o.ReadTimeout}, {"WriteTimeout", o.WriteTimeout}, {"IdleTimeout", o.IdleTimeout}, {"ShutdownTimeout", o.ShutdownTimeout}} {
		if f.d < 0 {
			return fmt.Errorf("gateway serve options: %s %s is negative", f.name, f.d)
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("gateway serve options: CertFile %q and KeyFile %q: TLS needs both", o.CertFile, o.KeyFile)
	}
	return nil
}

// ServeOptions configures Serve; zero values are the defaults shown.
type ServeOptions struct {
	CertFile, KeyFile string        // TLS when set
	ReadHeaderTimeout time.Duration // 5 s
	ReadTimeout       time.Duration // 30 s: the whole request, body included
	WriteTimeout      time.Duration // 30 s: above PublishTimeout, so a 503 still gets out
	IdleTimeout       time.Duration // 120 s
	ShutdownTimeout   time.Duration // 30 s for in-flight requests
	Logger            *slog.Logger  // the server's own errors (TLS handshakes, ...); default the standard logger
}

func retryAfter(s string) string {
	if s == "" {
		return ""
	}
	if _, err := strconv.Atoi(s); err == nil {
		return s
	}
	return ""
}
