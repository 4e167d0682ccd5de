package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// payloads is one valid delivery per source.
func payloads(t *testing.T, e *env) map[string][]byte {
	e.crm.set("18230411007", mapperFixture(t, "hubspot", "api.deal.json"))
	return map[string][]byte{
		GitHub:    sharedFixture(t, "github", "dependabot_alert.created.json"),
		GitLab:    sharedFixture(t, "gitlab", "deployment.json"),
		PagerDuty: mapperFixture(t, "pagerduty", "incident.triggered.json"),
		Zendesk:   mapperFixture(t, "zendesk", "event.ticket.created.json"),
		HubSpot:   mapperFixture(t, "hubspot", "webhook.deal.creation.json"),
	}
}

var eventHeaders = map[string]map[string]string{
	GitHub: {"X-GitHub-Event": "dependabot_alert", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
	GitLab: {"X-Gitlab-Event": "Deployment Hook"},
}

// TestSignatures: for every source a correctly signed delivery passes;
// a tampered body, a wrong secret, a stale timestamp (where the scheme has
// one) and a missing signature header are refused with 401, and nothing
// is published.
func TestSignatures(t *testing.T) {
	e := newEnv(t, nil)
	bodies := payloads(t, e)
	type attack struct {
		name string
		// prepare returns the request to send for a correctly signed one.
		prepare func(t *testing.T, source string, body []byte) *http.Request
	}
	sign := func(t *testing.T, source, secret string, body []byte, at time.Time) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/"+source, bytes.NewReader(body))
		for k, v := range eventHeaders[source] {
			req.Header.Set(k, v)
		}
		if err := Sign(source, secret, req, body, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	attacks := []attack{
		{"tampered body", func(t *testing.T, s string, b []byte) *http.Request {
			req := sign(t, s, testSecrets.of(s), b, time.Now())
			tampered := bytes.Replace(b, []byte(`"`), []byte(`'`), 1)
			tampered = append(tampered, ' ')
			req.Body = ioNopCloser(tampered)
			req.ContentLength = int64(len(tampered))
			return req
		}},
		{"wrong secret", func(t *testing.T, s string, b []byte) *http.Request {
			return sign(t, s, "not-the-secret", b, time.Now())
		}},
		{"stale timestamp", func(t *testing.T, s string, b []byte) *http.Request {
			return sign(t, s, testSecrets.of(s), b, time.Now().Add(-MaxSignatureAge-time.Minute))
		}},
		{"future timestamp", func(t *testing.T, s string, b []byte) *http.Request {
			return sign(t, s, testSecrets.of(s), b, time.Now().Add(MaxSignatureAge+time.Minute))
		}},
		{"missing header", func(t *testing.T, s string, b []byte) *http.Request {
			req := sign(t, s, testSecrets.of(s), b, time.Now())
			for _, h := range []string{"X-Hub-Signature-256", "X-Gitlab-Token", "X-PagerDuty-Signature", "X-Zendesk-Webhook-Signature", "X-HubSpot-Signature-v3"} {
				req.Header.Del(h)
			}
			return req
		}},
	}
	timestamped := map[string]bool{Zendesk: true, HubSpot: true}
	for _, s := range Sources {
		t.Run(s, func(t *testing.T) {
			before := e.published(t)
			for _, a := range attacks {
				if strings.Contains(a.name, "timestamp") && !timestamped[s] {
					continue // GitHub, GitLab and PagerDuty sign no timestamp
				}
				if s == GitLab && a.name == "tampered body" {
					continue // GitLab's token does not cover the body (its documented scheme)
				}
				code, _, rep := do(t, a.prepare(t, s, bodies[s]))
				if code != http.StatusUnauthorized || rep["outcome"] != "unauthorized" {
					t.Errorf("%s: %d %v, want 401", a.name, code, rep)
				}
			}
			if n := e.published(t); n != before {
				t.Fatalf("refused requests published %d messages", n-before)
			}
			code, _, rep := do(t, sign(t, s, testSecrets.of(s), bodies[s], time.Now()))
			if code != http.StatusAccepted {
				t.Errorf("valid delivery: %d %v", code, rep)
			}
			if n := e.published(t); n <= before {
				t.Error("valid delivery published nothing")
			}
		})
	}
}

// TestPagerDutyRotation: during a secret rotation PagerDuty sends one v1
// signature per secret; one matching is enough.
func TestPagerDutyRotation(t *testing.T) {
	body := []byte(`{"event":{}}`)
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	if err := Sign(PagerDuty, "new-secret", req, body, time.Now()); err != nil {
		t.Fatal(err)
	}
	good := req.Header.Get("X-PagerDuty-Signature")
	for _, h := range []string{
		"v1=0000000000000000000000000000000000000000000000000000000000000000," + good,
		good + ",v1=abcd",
		"v0=zzzz, " + good,
	} {
		req.Header.Set("X-PagerDuty-Signature", h)
		if err := verifyPagerDuty("new-secret", req, body, time.Now()); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	for _, h := range []string{"v1=0000", "v2=" + strings.TrimPrefix(good, "v1="), "garbage"} {
		req.Header.Set("X-PagerDuty-Signature", h)
		if err := verifyPagerDuty("new-secret", req, body, time.Now()); err == nil {
			t.Errorf("%s accepted", h)
		}
	}
}

// TestHubSpotURI: the signed URI is the full URL with HubSpot's listed
// escapes decoded and the others kept; behind a proxy PublicURL supplies
// the scheme and host HubSpot called.
func TestHubSpotURI(t *testing.T) {
	if got := hubSpotURI("https://h.example/webhooks/hubspot?portal=1%2C2&x=a%20b&u=%3A%2F%40"); got != "https://h.example/webhooks/hubspot?portal=1,2&x=a%20b&u=:/@" {
		t.Error(got)
	}
	body := []byte(`[]`)
	now := time.Now()
	signed, _ := http.NewRequest(http.MethodPost, "https://impact.example.com/webhooks/hubspot?tenant=a%2Cb", bytes.NewReader(body))
	if err := Sign(HubSpot, "cs", signed, body, now); err != nil {
		t.Fatal(err)
	}
	// What the gateway behind a TLS-terminating proxy sees.
	got, _ := http.NewRequest(http.MethodPost, "http://10.0.0.5:8088/webhooks/hubspot?tenant=a%2Cb", bytes.NewReader(body))
	got.Host = "10.0.0.5:8088"
	got.Header = signed.Header
	if err := verifyHubSpot("cs", "https://impact.example.com")("", got, body, now); err != nil {
		t.Errorf("with PublicURL: %v", err)
	}
	if err := verifyHubSpot("cs", "")("", got, body, now); err == nil {
		t.Error("accepted without PublicURL although the URL differs")
	}
	got.Method = http.MethodPut
	if err := verifyHubSpot("cs", "https://impact.example.com")("", got, body, now); err == nil {
		t.Error("method not covered")
	}
}

func TestBearer(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	for h, ok := range map[string]bool{"Bearer tok": true, "Bearer  tok ": true, "Bearer tok2": false, "tok": false, "": false, "Basic dG9r": false} {
		req.Header.Set("Authorization", h)
		if err := verifyBearer("tok", req, time.Now()); (err == nil) != ok {
			t.Errorf("%q: %v", h, err)
		}
	}
}
