package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
	"github.com/secimpact/impact/internal/testenv"
)

// TestRoundsBatch: deliveries arriving together share produce requests:
// 64 concurrent deliveries of PagerDuty incidents (a raw message and an
// event each, on one-partition topics) are acknowledged with a handful of
// produce requests, not one or more per delivery as a per-request write
// makes; every delivery is answered 202 and every message is published.
func TestRoundsBatch(t *testing.T) {
	kc := testenv.Kafka(t)
	e := newEnv(t, func(c *Config) { c.Kafka = kc; c.Linger = 20 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafkalocal.CreateTopics(ctx, kc, kc.Topics.Sources(), 1); err != nil {
		t.Fatal(err)
	}
	body := mapperFixture(t, "pagerduty", "incident.triggered.json")
	// Warm up (topic metadata), then count from zero.
	if code, _, rep := e.post(t, "/webhooks/pagerduty", PagerDuty, body, nil); code != http.StatusAccepted {
		t.Fatalf("%d %v", code, rep)
	}
	e.g.KafkaStats()
	const n = 64
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := []byte(fmt.Sprintf(`{"event":{"id":"E%d","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2025-03-11T07:42:18Z","data":{"id":"Q%d","type":"incident","status":"triggered","created_at":"2025-03-11T07:42:18Z","urgency":"high","service":{"id":"PSEC001","summary":"Security"}}}}`, i, i))
			codes[i], _, _ = e.post(t, "/webhooks/pagerduty", PagerDuty, b, nil)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", i, c)
		}
	}
	st := e.g.KafkaStats()
	if st.Messages != 2*n || st.Requests > 8 {
		t.Errorf("%d messages in %d produce requests; want %d in a few", st.Messages, st.Requests, 2*n)
	}
	if got := endOffsets(t, kc, e.cfg.RawTopic(PagerDuty)); got != n+1 {
		t.Errorf("raw topic has %d messages, want %d", got, n+1)
	}
}

// TestRoundsClose: Close publishes what was queued; a publish after it
// fails at once.
func TestRoundsClose(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.g.rounds.publish(context.Background(), nil); !errors.Is(err, errClosed) {
		t.Errorf("publish after close: %v", err)
	}
}

// TestRoundsBytes: a round stays under Kafka's default batch limit (1 MB)
// even when the requests waiting are large: ten 300 KB deliveries arriving
// together go in several rounds, each answered 202.
func TestRoundsBytes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Linger = 50 * time.Millisecond })
	pad := strings.Repeat("x", 300<<10)
	body := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"event":{"id":"E%d","event_type":"incident.annotated","resource_type":"incident","occurred_at":"2025-03-11T07:42:18Z","data":{"id":"N%d","type":"incident_note","content":%q}}}`, i, i, pad))
	}
	if code, _, rep := e.post(t, "/webhooks/pagerduty", PagerDuty, body(0), nil); code != http.StatusOK {
		t.Fatalf("%d %v", code, rep)
	}
	e.g.KafkaStats()
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = e.post(t, "/webhooks/pagerduty", PagerDuty, body(i+1), nil)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK { // kept raw, ignored: a note is not the incident
			t.Fatalf("delivery %d: %d", i, c)
		}
	}
	if st := e.g.KafkaStats(); st.Messages != 10 || st.Requests < 4 {
		t.Errorf("%d messages of 300 KB in %d produce requests: rounds over 1 MB", st.Messages, st.Requests)
	}
}

// TestRoundsRetry: a message failing with a temporary error (here its
// topic is missing on a cluster that creates none) is retried in later
// rounds until its request's deadline, then answered 503; deliveries of
// other sources, in the same rounds, are answered 202 meanwhile, not held
// up by it.
func TestRoundsRetry(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kc := config.Kafka{Brokers: c.ListenAddrs(), Topics: config.DefaultTopics()}
	cfg := Config{Kafka: kc, Mapping: testMapping(t), Secrets: Secrets{GitHub: testSecrets.GitHub, GitLab: testSecrets.GitLab},
		PublishTimeout: 2 * time.Second, RateLimit: -1, RawTopicPrefix: "raw.", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin.CreateTopics(ctx, append(kc.Topics.Sources(), cfg.RawTopic(GitHub)), 2); err != nil { // no raw.gitlab
		t.Fatal(err)
	}
	admin.Close()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer func() { srv.Close(); g.Close() }()
	e := &env{g: g, srv: srv, kafka: kc, cfg: cfg}

	start := time.Now()
	gitlab := make(chan int, 1)
	go func() {
		code, _, _ := e.post(t, "/webhooks/gitlab", GitLab, sharedFixture(t, "gitlab", "deployment.json"), map[string]string{"X-Gitlab-Event": "Deployment Hook"})
		gitlab <- code
	}()
	for n := 1; n <= 5; n++ {
		time.Sleep(100 * time.Millisecond)
		body := sourcetest.Edit(t, sharedFixture(t, "github", "dependabot_alert.created.json"), map[string]any{"alert.number": n})
		t0 := time.Now()
		code, _, rep := e.post(t, "/webhooks/github", GitHub, body, map[string]string{"X-GitHub-Event": "dependabot_alert"})
		if code != http.StatusAccepted || time.Since(t0) > time.Second {
			t.Errorf("github delivery %d: %d %v after %v", n, code, rep, time.Since(t0))
		}
	}
	if code := <-gitlab; code != http.StatusServiceUnavailable || time.Since(start) < time.Second {
		t.Errorf("gitlab delivery to a missing topic: %d after %v, want 503 after retrying", code, time.Since(start))
	}
}
