// Package bench measures `impact gateway`: signed webhooks sent over
// loopback by concurrent clients to a gateway in this process, each
// request's latency measured to its answer, which the gateway sends only
// after Kafka acknowledged the delivery (acks=all). The count and the wall
// time are bounded.
package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/secimpact/impact/ingest/gateway"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
)

// Options configures Run. The zero value sends 20,000 requests from 32
// clients to an embedded Kafka (on 2 cores more clients only queue).
type Options struct {
	Requests    int           // requests to send; default 20,000
	Concurrency int           // concurrent clients (keep-alive connections); default 32
	MaxDuration time.Duration // stop sending after this; default 2 minutes
	Linger      time.Duration // the gateway's Config.Linger; default its own (0)
	// Kafka is the cluster to publish to; no brokers: an embedded
	// in-process cluster started for the run.
	Kafka  config.Kafka
	Logger *slog.Logger
}

// Result is what Run measured. Latencies are per request, from sending it
// to reading the answer (which follows Kafka's acknowledgement).
type Result struct {
	Requests    int     `json:"requests"`    // answered with 202
	Errors      int     `json:"errors"`      // any other answer or a transport error
	Seconds     float64 `json:"seconds"`     // wall time of the sending
	RPS         float64 `json:"rps"`         // accepted requests per second
	P50MS       float64 `json:"p50_ms"`      // median latency
	P90MS       float64 `json:"p90_ms"`      // 90th percentile
	P99MS       float64 `json:"p99_ms"`      // 99th percentile
	MaxMS       float64 `json:"max_ms"`      // slowest request
	Events      int     `json:"events"`      // contract events published
	Concurrency int     `json:"concurrency"` // clients
	KafkaMode   string  `json:"kafka_mode"`  // embedded or external
	CPUs        int     `json:"cpus"`        // GOMAXPROCS
	CPUSeconds  float64 `json:"cpu_seconds"` // this process's user+system CPU during the sending (clients, gateway and an embedded Kafka)
	// ProduceRequests is how many produce requests the gateway's Kafka
	// writer sent during the sending, MessagesPerProduce the mean batch:
	// the broker's work grows with the requests more than the messages.
	ProduceRequests    int64   `json:"produce_requests"`
	MessagesPerProduce float64 `json:"messages_per_produce"`
	LoadAverage        float64 `json:"load_average"` // 1-minute load average at the end
}

// delivery is one prepared, signed request.
type delivery struct {
	path   string
	body   []byte
	header http.Header
	events int
}

// Validate names the first bad field. Zero values are the defaults; a
// negative value is an error, not silently the default.
func (o Options) Validate() error {
	switch {
	case o.Requests < 0:
		return fmt.Errorf("gateway bench options: Requests %d is negative", o.Requests)
	case o.Concurrency < 0:
		return fmt.Errorf("gateway bench options: Concurrency %d is negative", o.Concurrency)
	case o.MaxDuration < 0:
		return fmt.Errorf("gateway bench options: MaxDuration %s is negative", o.MaxDuration)
	case o.Linger < 0:
		return fmt.Errorf("gateway bench options: Linger %s is negative", o.Linger)
	}
	return nil
}

// Run starts a gateway (and, without brokers, an embedded Kafka), sends
// the requests and reports throughput and latency.
func Run(ctx context.Context, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	n := cmp.Or(opts.Requests, 20_000)
	conc := cmp.Or(opts.Concurrency, 32)
	maxDur := cmp.Or(opts.MaxDuration, 2*time.Minute)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res := Result{Concurrency: conc, CPUs: runtime.GOMAXPROCS(0), KafkaMode: "external"}
	kc := opts.Kafka
	if len(kc.Brokers) == 0 {
		e, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{Partitions: 6})
		if err != nil {
			return res, fmt.Errorf("bench gateway: %w", err)
		}
		defer e.Close()
		kc.Brokers = e.Brokers()
		res.KafkaMode = "embedded"
	}
	if kc.Topics == (config.Topics{}) {
		kc.Topics = config.DefaultTopics().WithSuffix(".bench" + strconv.FormatInt(time.Now().UnixNano(), 36))
	}
	secrets := gateway.Secrets{GitHub: "bench-gh", GitLab: "bench-gl", PagerDuty: "bench-pd", Zendesk: "bench-zd"}
	cfg := gateway.Config{
		Kafka: kc, Mapping: benchMapping(), Secrets: secrets, RateLimit: -1, Linger: opts.Linger,
		RawTopicPrefix: "raw" + strings.TrimPrefix(kc.Topics.Security, "security.events") + ".", Logger: log,
	}
	g, err := gateway.New(cfg)
	if err != nil {
		return res, fmt.Errorf("bench gateway: %w", err)
	}
	defer g.Close()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		return res, err
	}
	topics := g.Topics()
	err = admin.CreateTopics(ctx, topics, 6)
	if err == nil && res.KafkaMode == "external" {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = admin.DeleteTopics(dctx, topics)
			cancel()
			admin.Close()
		}()
	} else {
		defer admin.Close()
	}
	if err != nil {
		return res, fmt.Errorf("bench gateway: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- gateway.Serve(sctx, ln, g.Handler(), gateway.ServeOptions{Logger: log}) }()
	defer func() { stop(); <-served }()
	base := "http://" + ln.Addr().String()

	ds, err := prepare(base, secrets, n)
	if err != nil {
		return res, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	// Warm up: connections, topic metadata, the writer's partitions.
	for i := 0; i < min(conc, 32); i++ {
		if _, err := send(ctx, client, ds[i%len(ds)]); err != nil {
			return res, fmt.Errorf("bench gateway: warm-up: %w", err)
		}
	}

	lat := make([]time.Duration, n)
	var next, accepted, failed, events atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(maxDur)
	g.KafkaStats() // reset the counters after the warm-up
	cpu0 := cpuSeconds()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				d := ds[i%len(ds)]
				t0 := time.Now()
				_, err := send(ctx, client, d)
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					lat[i] = -1
					continue
				}
				accepted.Add(1)
				events.Add(int64(d.events))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.CPUSeconds = cpuSeconds() - cpu0
	if ks := g.KafkaStats(); ks.Requests > 0 {
		res.ProduceRequests, res.MessagesPerProduce = ks.Requests, float64(ks.Messages)/float64(ks.Requests)
	}
	res.LoadAverage = loadAverage()
	sent := min(int(next.Load()), n)
	var ok []time.Duration
	for _, l := range lat[:sent] {
		if l > 0 {
			ok = append(ok, l)
		}
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i] < ok[j] })
	res.Requests, res.Errors, res.Events = int(accepted.Load()), int(failed.Load()), int(events.Load())
	res.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
	}
	if len(ok) > 0 {
		q := func(p float64) float64 { return ms(ok[min(len(ok)-1, int(p*float64(len(ok))))]) }
		res.P50MS, res.P90MS, res.P99MS, res.MaxMS = q(0.50), q(0.90), q(0.99), ms(ok[len(ok)-1])
	}
	if res.Errors > 0 {
		return res, fmt.Errorf("bench gateway: %d of %d requests failed, first: %v", res.Errors, sent, firstErr.Load())
	}
	if res.Requests == 0 {
		return res, errors.New("bench gateway: no request was sent within the time bound")
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func send(ctx context.Context, c *http.Client, d delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.path, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header = d.header.Clone()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted { // say why
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode, fmt.Errorf("answer %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func benchMapping() *mapping.File {
	m, err := mapping.Parse("bench.yaml", []byte(`
version: 1
accounts:
  - id: acme
    zendesk: "9000"
incidents:
  pagerduty:
    services: [PBENCH1]
`))
	if err != nil {
		panic(err) // a constant: cannot fail
	}
	return m
}

// prepare signs up to 1,000 distinct deliveries, mixing the sources: half
// GitHub Dependabot alerts, and GitLab vulnerabilities, PagerDuty
// incidents and Zendesk ticket events, each for a distinct entity so the
// messages spread over the partitions.
func prepare(base string, secrets gateway.Secrets, n int) ([]delivery, error) {
	now := time.Now().UTC()
	k := min(n, 1000)
	out := make([]delivery, 0, k)
	for i := 0; i < k; i++ {
		at := now.Add(-time.Duration(i+1) * time.Minute).Format(time.RFC3339)
		var source, path string
		var body []byte
		h := http.Header{"Content-Type": {"application/json"}}
		switch i % 6 {
		case 0, 1, 2:
			source = gateway.GitHub
			body = []byte(fmt.Sprintf(`{"action":"created","alert":{"number":%d,"state":"open","created_at":%q,"updated_at":%q,`+
				`"dependency":{"package":{"ecosystem":"npm","name":"semver"},"manifest_path":"package-lock.json"},`+
				`"security_advisory":{"ghsa_id":"GHSA-c2qf-rxjj-qqgw","cve_id":"CVE-2022-25883","summary":"semver vulnerable to Regular Expression Denial of Service","severity":"medium",`+
				`"cvss":{"score":5.3},"cwes":[{"cwe_id":"CWE-1333"}]}},"repository":{"full_name":"acme/service-%d"}}`, i+1, at, at, i%20))
			h.Set("X-GitHub-Event", "dependabot_alert")
			h.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
		case 3:
			source = gateway.GitLab
			body = []byte(fmt.Sprintf(`{"object_kind":"vulnerability","object_attributes":{"url":"https://gitlab.example.com/acme/web/-/security/vulnerabilities/%d",`+
				`"title":"SQL injection","state":"detected","severity":"high","report_type":"sast","project_id":7,"created_at":%q,"updated_at":%q,`+
				`"identifiers":[{"external_type":"cwe","external_id":"89"}]},"project":{"id":7,"path_with_namespace":"acme/web"}}`, i+1, at, at))
			h.Set("X-Gitlab-Event", "Vulnerability Hook")
		case 4:
			source = gateway.PagerDuty
			body = []byte(fmt.Sprintf(`{"event":{"id":"B%d","event_type":"incident.triggered","resource_type":"incident","occurred_at":%q,`+
				`"data":{"id":"QBENCH%d","type":"incident","status":"triggered","created_at":%q,"urgency":"high",`+
				`"service":{"id":"PBENCH1","summary":"Security","type":"service_reference"},"priority":{"id":"P","summary":"P2","type":"priority_reference"}}}}`, i, at, i, at))
		default:
			source = gateway.Zendesk
			body = []byte(fmt.Sprintf(`{"type":"zen:event-type:ticket.created","account_id":1,"id":"z%d","time":%q,"subject":"zen:ticket:%d",`+
				`"detail":{"id":"%d","status":"NEW","priority":"NORMAL","organization_id":"9000","tags":["security"],"via":{"channel":"email"},"created_at":%q,"updated_at":%q},"event":{}}`, i, at, i+1, i+1, at, at))
		}
		path = base + "/webhooks/" + source
		req, _ := http.NewRequest(http.MethodPost, path, nil)
		req.Header = h
		var secret string
		switch source {
		case gateway.GitHub:
			secret = secrets.GitHub
		case gateway.GitLab:
			secret = secrets.GitLab
		case gateway.PagerDuty:
			secret = secrets.PagerDuty
		default:
			secret = secrets.Zendesk
		}
		if err := gateway.Sign(source, secret, req, body, now); err != nil {
			return nil, err
		}
		if !json.Valid(body) {
			return nil, fmt.Errorf("bench gateway: prepared %s body %d is not JSON", source, i)
		}
		out = append(out, delivery{path: path, body: body, header: req.Header, events: 1})
	}
	return out, nil
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// loadAverage is the 1-minute load average (0 where /proc is missing).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
