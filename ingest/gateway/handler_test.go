package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

// TestWebhooks: a signed delivery of each source is answered 202 once its
// raw payload (unchanged, with the vendor headers a replay needs) and its
// contract events (keyed by entity id, accepted by the decoder) are in
// Kafka.
func TestWebhooks(t *testing.T) {
	e := newEnv(t, nil)
	bodies := payloads(t, e)
	wantTypes := map[string][]string{
		GitHub:    {"security.finding.opened"},
		GitLab:    {"deployment.finished"},
		PagerDuty: {"security.incident.detected"},
		Zendesk:   {"support.ticket.created"},
		HubSpot:   {"crm.opportunity.created", "security.review.completed"},
	}
	for _, s := range Sources {
		code, _, rep := e.post(t, "/webhooks/"+s, s, bodies[s], eventHeaders[s])
		if code != http.StatusAccepted || rep["outcome"] != "accepted" || int(rep["events"].(float64)) != len(wantTypes[s]) {
			t.Fatalf("%s: %d %v", s, code, rep)
		}
	}
	for _, s := range Sources {
		raw := readAll(t, e.kafka, e.cfg.RawTopic(s))
		if len(raw) != 1 || !bytes.Equal(raw[0].Value, bodies[s]) {
			t.Fatalf("%s raw topic: %d messages", s, len(raw))
		}
		for k, v := range eventHeaders[s] {
			if !hasHeader(raw[0], strings.ToLower(k), v) {
				t.Errorf("%s raw message lacks %s: %v", s, k, raw[0].Headers)
			}
		}
	}
	got := map[string]int{}
	for _, m := range readAll(t, e.kafka, e.kafka.Topics.Sources()...) {
		ev, err := schemas.Decode(m.Value, headers(m))
		if err != nil {
			t.Fatalf("%s: %v", m.Topic, err)
		}
		if string(m.Key) != ev.Payload.EntityID() || m.Topic != e.kafka.Topics.ForType(ev.Type) {
			t.Errorf("%s on %s keyed %q", ev.Type, m.Topic, m.Key)
		}
		got[ev.Type]++
	}
	for _, types := range wantTypes {
		for _, typ := range types {
			if got[typ] != 1 {
				t.Errorf("%s: %d events", typ, got[typ])
			}
		}
	}
}

// TestRedelivery: the same delivery twice is the same events (same ids).
func TestRedelivery(t *testing.T) {
	e := newEnv(t, nil)
	body := sharedFixture(t, "github", "code_scanning_alert.fixed.json") // undated: the id comes from the delivery GUID
	h := map[string]string{"X-GitHub-Event": "code_scanning_alert", "X-GitHub-Delivery": "9a7c4e10-1b2c-11f0-8a3b-6f1d2e3c4b5a"}
	for i := 0; i < 2; i++ {
		if code, _, rep := e.post(t, "/webhooks/github", GitHub, body, h); code != http.StatusAccepted {
			t.Fatalf("%d %v", code, rep)
		}
	}
	msgs := readAll(t, e.kafka, e.kafka.Topics.Security)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	a, _ := schemas.Decode(msgs[0].Value, nil)
	b, _ := schemas.Decode(msgs[1].Value, nil)
	if a.ID != b.ID || a.Source != b.Source {
		t.Errorf("redelivery changed the event: %s %s", a.ID, b.ID)
	}
}

// TestNotForTheContract: deliveries without contract facts are answered
// 200 and their raw payload is still kept (a later mapping may use them);
// a value the mapping file lacks is reported with the line to add.
func TestNotForTheContract(t *testing.T) {
	e := newEnv(t, nil)
	code, _, rep := e.post(t, "/webhooks/github", GitHub, []byte(`{"ref":"refs/heads/main","repository":{"full_name":"acme/payments"}}`),
		map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1"})
	if code != http.StatusOK || rep["outcome"] != "ignored" || !strings.Contains(rep["reason"].(string), "push") {
		t.Errorf("push: %d %v", code, rep)
	}
	e.crm.set("18230411007", sourcetest.Edit(t, mapperFixture(t, "hubspot", "api.deal.json"), map[string]any{"properties.customer_segment": "Strategic"}))
	code, _, rep = e.post(t, "/webhooks/hubspot", HubSpot, mapperFixture(t, "hubspot", "webhook.deal.creation.json"), nil)
	if code != http.StatusOK || rep["outcome"] != "unmapped" {
		t.Fatalf("unmapped: %d %v", code, rep)
	}
	u := rep["unmapped"].([]any)[0].(map[string]any)
	if u["suggestion"] != `crm.segments: {"Strategic": smb|mid_market|enterprise}` {
		t.Errorf("%v", u)
	}
	if n := endOffsets(t, e.kafka, e.cfg.RawTopic(GitHub), e.cfg.RawTopic(HubSpot)); n != 2 {
		t.Errorf("raw messages %d, want 2", n)
	}
	if n := endOffsets(t, e.kafka, e.kafka.Topics.Sources()...); n != 0 {
		t.Errorf("%d contract events published", n)
	}
}

func TestDisabledAndLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Secrets = Secrets{GitHub: "gh-secret", PagerDuty: "pd-secret"}
		c.HubSpot = nil
		c.MaxBodyBytes = 64 << 10
		c.RateLimit, c.RateBurst = 0.01, 3
	})
	for _, path := range []string{"/webhooks/gitlab", "/webhooks/hubspot", "/webhooks/nope", "/events"} {
		if code, _, _ := e.post(t, path, "", []byte(`{}`), nil); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/webhooks/github", nil)
	if code, _, _ := do(t, req); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", code)
	}
	big := bytes.Repeat([]byte(" "), 65<<10)
	if code, _, rep := e.post(t, "/webhooks/github", GitHub, big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d %v", code, rep)
	}
	if code, _, rep := e.post(t, "/webhooks/github", GitHub, []byte(`{"repository":`), map[string]string{"X-GitHub-Event": "dependabot_alert"}); code != http.StatusBadRequest {
		t.Errorf("bad JSON: %d %v", code, rep)
	}
	// The third request of the burst of 3 (413 and 400 counted) passes,
	// the fourth is limited.
	if code, _, _ := e.post(t, "/webhooks/github", GitHub, []byte(`{}`), nil); code != http.StatusOK {
		t.Errorf("third request: %d", code)
	}
	code, h, _ := e.post(t, "/webhooks/github", GitHub, []byte(`{}`), nil)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("rate limit: %d %v", code, h)
	}
	// Another source has its own budget.
	if code, _, _ := e.post(t, "/webhooks/pagerduty", PagerDuty, mapperFixture(t, "pagerduty", "service.updated.json"), nil); code != http.StatusOK {
		t.Errorf("pagerduty: %d", code)
	}
	// The two accepted deliveries and the authentic but unreadable one
	// (bad JSON, kept for replay).
	if n := e.published(t); n != 3 {
		t.Errorf("published %d, want the three authenticated raw deliveries", n)
	}
}

// TestVendorAPIDown: when the HubSpot API fails, the delivery is answered
// 503 with the API's Retry-After so HubSpot retries; nothing is published.
func TestVendorAPIDown(t *testing.T) {
	e := newEnv(t, nil)
	e.crm.token = "revoked" // every call now answers 401
	code, h, rep := e.post(t, "/webhooks/hubspot", HubSpot, mapperFixture(t, "hubspot", "webhook.deal.creation.json"), nil)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("%d %v %v", code, h, rep)
	}
	if n := e.published(t); n != 0 {
		t.Errorf("published %d", n)
	}
}

// TestEvents: POST /events in structured, batch and binary mode; an
// invalid event rejects the whole request with its index, field and rule,
// and nothing is published.
func TestEvents(t *testing.T) {
	e := newEnv(t, nil)
	finding, err := os.ReadFile("../../schemas/testdata/valid/security.finding.opened.json")
	if err != nil {
		t.Fatal(err)
	}
	ticket, _ := os.ReadFile("../../schemas/testdata/valid/support.ticket.created.json")
	structured := map[string]string{"Content-Type": "application/cloudevents+json"}
	if code, _, rep := e.post(t, "/events", Events, finding, structured); code != http.StatusAccepted || rep["accepted"] != 1.0 {
		t.Fatalf("structured: %d %v", code, rep)
	}
	batch := []byte("[" + string(finding) + "," + string(ticket) + "]")
	if code, _, rep := e.post(t, "/events", Events, batch, map[string]string{"Content-Type": "application/cloudevents-batch+json; charset=utf-8"}); code != http.StatusAccepted || rep["accepted"] != 2.0 {
		t.Fatalf("batch: %d %v", code, rep)
	}
	var ev map[string]json.RawMessage
	json.Unmarshal(ticket, &ev)
	bin := map[string]string{"Content-Type": "application/json"}
	for k, v := range ev {
		if k == "data" || k == "datacontenttype" {
			continue
		}
		var s string
		json.Unmarshal(v, &s)
		bin["ce-"+k] = s
	}
	bin["ce-id"] = "binary%20mode-1" // percent-encoded, as the HTTP binding allows
	if code, _, rep := e.post(t, "/events", Events, ev["data"], bin); code != http.StatusAccepted {
		t.Fatalf("binary: %d %v", code, rep)
	}
	before := e.published(t)
	bad := sourcetest.Edit(t, ticket, map[string]any{"data.priority": "whenever"})
	code, _, rep := e.post(t, "/events", Events, []byte("["+string(finding)+","+string(bad)+"]"), map[string]string{"Content-Type": "application/cloudevents-batch+json"})
	if code != http.StatusBadRequest || rep["index"] != 1.0 || rep["field"] != "data.priority" || rep["rule"] != "enum" {
		t.Errorf("invalid batch: %d %v", code, rep)
	}
	if code, _, _ := e.post(t, "/events", Events, finding, map[string]string{"Content-Type": "text/plain"}); code != http.StatusBadRequest {
		t.Errorf("text/plain: %d", code)
	}
	if code, _, _ := e.post(t, "/events", "", finding, structured); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if n := e.published(t); n != before {
		t.Errorf("rejected requests published %d", n-before)
	}
	msgs := readAll(t, e.kafka, e.kafka.Topics.Support)
	if len(msgs) != 2 {
		t.Fatalf("%d ticket messages", len(msgs))
	}
	b, err := schemas.Decode(msgs[1].Value, headers(msgs[1]))
	if err != nil || b.ID != "binary mode-1" || string(msgs[1].Key) != b.Payload.EntityID() {
		t.Errorf("binary event stored as %v %+v", err, b)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, nil)
	get := func(path string) (int, string) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/readyz"); code != 200; code, _ = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.post(t, "/webhooks/github", GitHub, sharedFixture(t, "github", "dependabot_alert.created.json"), eventHeaders[GitHub])
	e.post(t, "/webhooks/github", "", []byte(`{}`), nil)
	_, body := get("/metrics")
	for _, want := range []string{
		`impact_gateway_requests_total{outcome="accepted",source="github"} 1`,
		`impact_gateway_requests_total{outcome="unauthorized",source="github"} 1`,
		`impact_gateway_mapping_results_total{result="mapped",source="github"} 1`,
		`impact_gateway_events_published_total{source="github",type="security.finding.opened"} 1`,
		`impact_gateway_publish_duration_seconds_count{source="github"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestGracefulShutdown: a request in flight when the server is told to
// stop is finished (published and answered), then Serve returns.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Linger = 700 * time.Millisecond })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, e.g.Handler(), ServeOptions{ShutdownTimeout: 20 * time.Second}) }()
	body := sharedFixture(t, "github", "dependabot_alert.created.json")
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/webhooks/github", bytes.NewReader(body))
	for k, v := range eventHeaders[GitHub] {
		req.Header.Set(k, v)
	}
	Sign(GitHub, testSecrets.GitHub, req, body, time.Now())
	answered := make(chan int, 1)
	go func() {
		code, _, _ := do(t, req)
		answered <- code
	}()
	time.Sleep(200 * time.Millisecond) // the request waits on the 700 ms linger
	cancel()
	if code := <-answered; code != http.StatusAccepted {
		t.Errorf("in-flight request: %d", code)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections")
	}
	if n := endOffsets(t, e.kafka, e.kafka.Topics.Security); n != 1 {
		t.Errorf("%d events", n)
	}
}

// TestTLS: with a certificate the gateway serves HTTPS only.
func TestTLS(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, ln, e.g.Handler(), ServeOptions{CertFile: certFile, KeyFile: keyFile, Logger: e.cfg.Logger})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ {
		if resp, err = client.Get("https://" + ln.Addr().String() + "/healthz"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("%d %+v", resp.StatusCode, resp.TLS)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		// Go's TLS server answers plain HTTP with a 400, never the endpoint.
		resp, _ := http.Get("http://" + ln.Addr().String() + "/healthz")
		if resp != nil && resp.StatusCode == 200 {
			t.Error("plain HTTP served")
		}
	}
}

func selfSigned(t *testing.T) ([]byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestConfig(t *testing.T) {
	base := Config{Kafka: testKafkaCfg(), Secrets: Secrets{GitHub: "s"}}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Kafka.Brokers = nil }, "Kafka.Brokers"},
		{func(c *Config) { c.Secrets = Secrets{} }, "no source is enabled"},
		{func(c *Config) { c.Secrets.HubSpot = "x" }, "IMPACT_HUBSPOT_ACCESS_TOKEN"},
		{func(c *Config) { c.MaxBodyBytes = -1 }, "MaxBodyBytes"},
		{func(c *Config) { c.PublicURL = "impact.example.com" }, "PublicURL"},
		{func(c *Config) { c.RateLimit = math.NaN() }, "RateLimit NaN"},
		{func(c *Config) { c.RateBurst = -2 }, "RateBurst -2"},
		{func(c *Config) { c.PublishTimeout = -time.Second }, "PublishTimeout -1s"},
		{func(c *Config) { c.Linger = -time.Millisecond }, "Linger -1ms"},
		{func(c *Config) { c.RawTopicPrefix = "raw/" }, "RawTopicPrefix"},
	}
	for _, b := range bad {
		c := base
		b.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v, want %q", err, b.want)
		}
	}
	files := map[string]string{"/run/secrets/gh": "from-file\n"}
	vars := map[string]string{"IMPACT_GITHUB_WEBHOOK_SECRET_FILE": "/run/secrets/gh", "IMPACT_EVENTS_TOKEN": " tok ",
		"IMPACT_HUBSPOT_CLIENT_SECRET": "cs", "IMPACT_HUBSPOT_ACCESS_TOKEN": "pat"}
	env := Env{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		},
	}
	var c Config
	if err := c.FromEnv(env); err != nil {
		t.Fatal(err)
	}
	if c.Secrets.GitHub != "from-file" || c.Secrets.Events != "tok" || c.Secrets.GitLab != "" || c.HubSpot == nil || c.HubSpot.Token != "pat" {
		t.Errorf("%+v", c)
	}
	vars["IMPACT_GITHUB_WEBHOOK_SECRET"] = "also"
	if err := c.FromEnv(env); err == nil || !strings.Contains(err.Error(), "both IMPACT_GITHUB_WEBHOOK_SECRET") {
		t.Errorf("both set: %v", err)
	}
	vars["IMPACT_GITHUB_WEBHOOK_SECRET"] = ""
	vars["IMPACT_GITLAB_WEBHOOK_SECRET_FILE"] = "/missing"
	if err := c.FromEnv(env); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestServeReplayOptionsValidate: zero values are the defaults; a bad
// value is an error naming its field.
func TestServeReplayOptionsValidate(t *testing.T) {
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    interface{ Validate() error }
		want string // "" = valid
	}{
		{"serve zero", ServeOptions{}, ""},
		{"serve TLS", ServeOptions{CertFile: "c.pem", KeyFile: "k.pem", ReadTimeout: time.Second}, ""},
		{"serve negative", ServeOptions{IdleTimeout: -time.Second}, "IdleTimeout -1s is negative"},
		{"serve cert only", ServeOptions{CertFile: "c.pem"}, "TLS needs both"},
		{"replay", ReplayOptions{Source: GitHub, From: day, To: day.Add(time.Hour)}, ""},
		{"replay open ends", ReplayOptions{Source: Zendesk}, ""},
		{"replay unknown source", ReplayOptions{Source: "jira"}, "Source \"jira\" is not one of"},
		{"replay empty window", ReplayOptions{Source: GitHub, From: day, To: day}, "From 2026-05-01T00:00:00Z is not before To"},
	}
	for _, tt := range tests {
		err := tt.v.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}
