package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas"
)

var testSecrets = Secrets{
	GitHub: "gh-secret", GitLab: "gl-token", PagerDuty: "pd-secret",
	Zendesk: "zd-secret", HubSpot: "hs-client-secret", Events: "events-token",
}

const testMappingYAML = `
version: 1
services:
  - id: payments-api
    github: acme/payments
accounts:
  - id: globex
    zendesk: 360363695492
    hubspot: 9876543210
incidents:
  pagerduty:
    services: [PSEC001]
crm:
  segments: {Enterprise: enterprise}
  hubspot:
    properties:
      segment: customer_segment
      security_review_requested: security_review_requested_date
      security_review_completed: security_review_completed_date
support:
  security_tags: [security, phishing]
`

func testMapping(t testing.TB) *mapping.File {
	t.Helper()
	m, err := mapping.Parse("test.yaml", []byte(testMappingYAML))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// env is a gateway under test: its HTTP server, Kafka settings and topics.
type env struct {
	g     *Gateway
	srv   *httptest.Server
	kafka config.Kafka
	cfg   Config
	crm   *fakeHubSpot
}

// newEnv starts a gateway on the test Kafka (embedded, or the real broker
// with IMPACT_TEST_KAFKA=real) with topics of this test only and the
// HubSpot API faked. mod adjusts the config.
func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	kc := testenv.Kafka(t)
	crm := newFakeHubSpot(t)
	cfg := Config{
		Kafka:          kc,
		Mapping:        testMapping(t),
		Secrets:        testSecrets,
		HubSpot:        &hubspot.Client{BaseURL: crm.srv.URL, Token: crm.token},
		RawTopicPrefix: "raw" + testenv.TopicSuffix(t) + ".",
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimit:      -1,
	}
	if mod != nil {
		mod(&cfg)
	}
	return startEnv(t, cfg, crm)
}

func startEnv(t *testing.T, cfg Config, crm *fakeHubSpot) *env {
	t.Helper()
	var raws []string
	for _, s := range Sources {
		raws = append(raws, cfg.RawTopic(s))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafkalocal.CreateTopics(ctx, cfg.Kafka, raws, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if admin, err := kafkaio.NewAdmin(cfg.Kafka); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = admin.DeleteTopics(ctx, raws)
			cancel()
			admin.Close()
		}
	})
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := g.Close(); err != nil {
			t.Errorf("close gateway: %v", err)
		}
	})
	return &env{g: g, srv: srv, kafka: cfg.Kafka, cfg: cfg, crm: crm}
}

// post sends body to path signed for source (unsigned when source is "").
func (e *env) post(t testing.TB, path, source string, body []byte, hdr map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if source != "" {
		if err := Sign(source, e.cfg.Secrets.of(source), req, body, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

// endOffsets sums the end offsets of topics: how many messages were
// published to them.
func endOffsets(t testing.TB, kc config.Kafka, topics ...string) int64 {
	t.Helper()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := admin.EndOffsets(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, parts := range offs {
		for _, o := range parts {
			n += o
		}
	}
	return n
}

// published counts every message the gateway can have written.
func (e *env) published(t testing.TB) int64 {
	topics := e.kafka.Topics.Sources()
	for _, s := range Sources {
		topics = append(topics, e.cfg.RawTopic(s))
	}
	return endOffsets(t, e.kafka, topics...)
}

// readAll reads every message of topics (to the end offsets now).
func readAll(t testing.TB, kc config.Kafka, topics ...string) []kafka.Message {
	t.Helper()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := admin.EndOffsets(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	dialer, _ := kafkaio.Dialer(kc)
	var out []kafka.Message
	for topic, parts := range ends {
		for p, end := range parts {
			if end == 0 {
				continue
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, Topic: topic, Partition: p, Dialer: dialer, MaxWait: 200 * time.Millisecond})
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					r.Close()
					t.Fatalf("read %s[%d]: %v", topic, p, err)
				}
				out = append(out, m)
				if m.Offset+1 >= end {
					break
				}
			}
			r.Close()
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

// fakeHubSpot is an HTTP fake of HubSpot's CRM v3 deal endpoint, answering
// in the documented response shape.
type fakeHubSpot struct {
	srv   *httptest.Server
	token string
	mu    sync.Mutex
	deals map[string][]byte
	calls int
}

func newFakeHubSpot(t testing.TB) *fakeHubSpot {
	f := &fakeHubSpot{token: "pat-test", deals: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls++
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id, _ := strings.CutPrefix(r.URL.Path, "/crm/v3/objects/deals/")
		b, ok := f.deals[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHubSpot) set(id string, deal []byte) {
	f.mu.Lock()
	f.deals[id] = deal
	f.mu.Unlock()
}

// Vendor payloads: published examples from ../shared/fixtures and the
// mapper packages' own documented fixtures.
func sharedFixture(t testing.TB, vendor, name string) []byte {
	return sourcetest.Shared(t, vendor, name)
}

func mapperFixture(t testing.TB, pkg, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../sources/" + pkg + "/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ioNopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func hasHeader(m kafka.Message, key, value string) bool {
	for _, h := range m.Headers {
		if h.Key == key && string(h.Value) == value {
			return true
		}
	}
	return false
}

func headers(m kafka.Message) []schemas.Header {
	var out []schemas.Header
	for _, h := range m.Headers {
		out = append(out, schemas.Header{Key: h.Key, Value: h.Value})
	}
	return out
}

func testKafkaCfg() config.Kafka { return config.Kafka{Brokers: []string{"127.0.0.1:1"}} }
