package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/hubspot"
)

// countingBody is a request body that records how much was read of it.
type countingBody struct {
	r    io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

// TestAuthBeforeBody: a request whose headers already fail authentication
// (no or a malformed signature, a stale timestamp, a wrong GitLab or bearer
// token) or declare a body over the cap is answered without reading its
// body, so an unauthenticated sender cannot make the gateway buffer
// anything; a compressed body is refused (415) the same way.
func TestAuthBeforeBody(t *testing.T) {
	g, err := New(Config{Kafka: testKafkaCfg(), Secrets: testSecrets, HubSpot: &hubspot.Client{Token: "t"}, MaxBodyBytes: 1 << 20, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	h := g.Handler()
	stale := time.Now().Add(-time.Hour)
	cases := []struct {
		name, path string
		hdr        map[string]string
		length     int64 // declared Content-Length; 0: the body's
		code       int
	}{
		{"github unsigned", "/webhooks/github", nil, 0, 401},
		{"github not hex", "/webhooks/github", map[string]string{"X-Hub-Signature-256": "sha256=zz"}, 0, 401},
		{"github short", "/webhooks/github", map[string]string{"X-Hub-Signature-256": "sha256=abcd"}, 0, 401},
		{"gitlab wrong token", "/webhooks/gitlab", map[string]string{"X-Gitlab-Token": "guess"}, 0, 401},
		{"pagerduty unsigned", "/webhooks/pagerduty", map[string]string{"X-PagerDuty-Signature": "v0=abc"}, 0, 401},
		{"zendesk stale", "/webhooks/zendesk", map[string]string{"X-Zendesk-Webhook-Signature": "AAAA", "X-Zendesk-Webhook-Signature-Timestamp": stale.UTC().Format(time.RFC3339)}, 0, 401},
		{"hubspot stale", "/webhooks/hubspot", map[string]string{"X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": "1000"}, 0, 401},
		{"events wrong token", "/events", map[string]string{"Authorization": "Bearer guess"}, 0, 401},
		{"declared over the cap", "/webhooks/github", map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("ab", 32)}, 2 << 20, 413},
		{"gzip", "/webhooks/gitlab", map[string]string{"X-Gitlab-Token": testSecrets.GitLab, "Content-Encoding": "gzip"}, 0, 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := &countingBody{r: bytes.NewReader(bytes.Repeat([]byte("x"), 512<<10))}
			req := httptest.NewRequest(http.MethodPost, c.path, nil)
			req.Body, req.ContentLength = body, 512<<10
			if c.length != 0 {
				req.ContentLength = c.length
			}
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code {
				t.Errorf("%d %s, want %d", rec.Code, rec.Body, c.code)
			}
			if body.read != 0 {
				t.Errorf("read %d bytes of the body before refusing", body.read)
			}
		})
	}
}

// TestSignatureForms: forms of the signature headers real senders and
// proxies produce are read: GitHub's prefix in any case; PagerDuty's
// signatures split over several header lines, with spaces; the bearer
// scheme in any case.
func TestSignatureForms(t *testing.T) {
	body := []byte(`{"event":{}}`)
	now := time.Now()
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	if err := Sign(GitHub, "s", req, body, now); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Hub-Signature-256", strings.Replace(req.Header.Get("X-Hub-Signature-256"), "sha256=", "SHA256=", 1))
	if err := verifyGitHub("s", req, body, now); err != nil {
		t.Errorf("upper-case prefix: %v", err)
	}
	if err := Sign(PagerDuty, "new", req, body, now); err != nil {
		t.Fatal(err)
	}
	good := req.Header.Get("X-PagerDuty-Signature")
	req.Header.Del("X-PagerDuty-Signature")
	req.Header.Add("X-PagerDuty-Signature", "v1="+strings.Repeat("0", 64))
	req.Header.Add("X-PagerDuty-Signature", " "+strings.Replace(good, "v1=", "v1= ", 1)+" ")
	if err := verifyPagerDuty("new", req, body, now); err != nil {
		t.Errorf("signatures on two header lines: %v", err)
	}
	req.Header.Set("Authorization", "bearer tok")
	if err := verifyBearer("tok", req, now); err != nil {
		t.Errorf("lower-case scheme: %v", err)
	}
}

// TestUnmappableKeptRaw: an authentic delivery the mapper cannot read, or
// that maps to an event the contract refuses, is answered 400 with the
// reason, and kept unchanged on the raw topic so a corrected mapper can
// replay it; no event is published.
func TestUnmappableKeptRaw(t *testing.T) {
	alert := func(state, created string) []byte {
		return []byte(`{"action":"created","repository":{"full_name":"acme/payments"},"alert":{"number":1,"state":"` + state +
			`","created_at":"` + created + `","security_advisory":{"severity":"high"}}}`)
	}
	for _, tc := range []struct {
		name, error string
		body        []byte
	}{
		{"unknown state", "quarantined", alert("quarantined", "2025-01-01T00:00:00Z")},
		{"timestamp the format cannot hold", "1971-2105", alert("open", "1970-01-01T00:00:00Z")},
		{"event time the decoder refuses", "time_window", alert("open", "1999-06-01T00:00:00Z")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			code, _, rep := e.post(t, "/webhooks/github", GitHub, tc.body, map[string]string{"X-GitHub-Event": "dependabot_alert"})
			if code != http.StatusBadRequest || !strings.Contains(rep["error"].(string), tc.error) || !strings.Contains(rep["reason"].(string), "raw topic") {
				t.Fatalf("%d %v", code, rep)
			}
			raw := readAll(t, e.kafka, e.cfg.RawTopic(GitHub))
			if len(raw) != 1 || !bytes.Equal(raw[0].Value, tc.body) {
				t.Fatalf("raw topic: %d messages", len(raw))
			}
			if n := endOffsets(t, e.kafka, e.kafka.Topics.Sources()...); n != 0 {
				t.Errorf("%d events published", n)
			}
		})
	}
}
