package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxSignatureAge is how far a signed timestamp (HubSpot, Zendesk) may be
// from the gateway's clock, either way. HubSpot documents rejecting
// requests older than 5 minutes; the same window bounds replays of Zendesk
// deliveries, and clock skew into the future.
const MaxSignatureAge = 5 * time.Minute

// errAuth is every authentication failure; the message says which check
// failed (logged, and sent to the caller, who may be a misconfigured vendor
// but learns nothing about the secret).
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

func authErr(format string, args ...any) error { return &authError{fmt.Sprintf(format, args...)} }

func hmacSHA256(secret string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// verifyGitHub checks X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(secret, body)).
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
func verifyGitHub(secret string, r *http.Request, body []byte, _ time.Time) error {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		return authErr("missing X-Hub-Signature-256")
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return authErr("X-Hub-Signature-256 is not sha256=<hex>")
	}
	if !hmac.Equal(got, hmacSHA256(secret, body)) {
		return authErr("X-Hub-Signature-256 does not match the body")
	}
	return nil
}

// verifyGitLab checks X-Gitlab-Token, which GitLab sends verbatim.
// https://docs.gitlab.com/user/project/integrations/webhooks/#validate-payloads-by-using-a-secret-token
func verifyGitLab(secret string, r *http.Request, _ []byte, _ time.Time) error {
	tok := r.Header.Get("X-Gitlab-Token")
	if tok == "" {
		return authErr("missing X-Gitlab-Token")
	}
	if !constantEqual(tok, secret) {
		return authErr("X-Gitlab-Token does not match")
	}
	return nil
}

// verifyPagerDuty checks X-PagerDuty-Signature: one or more comma-separated
// "v1=" + hex(HMAC-SHA256(secret, body)) (several during a secret
// rotation); one match is enough, other versions are skipped.
// https://github.com/PagerDuty/developer-docs/blob/main/docs/webhooks/04-Signatures.md
func verifyPagerDuty(secret string, r *http.Request, body []byte, _ time.Time) error {
	h := r.Header.Get("X-PagerDuty-Signature")
	if h == "" {
		return authErr("missing X-PagerDuty-Signature")
	}
	want := hmacSHA256(secret, body)
	seen := false
	for _, s := range strings.Split(h, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(s), "v1=")
		if !ok {
			continue
		}
		seen = true
		if got, err := hex.DecodeString(v); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !seen {
		return authErr("X-PagerDuty-Signature has no v1 signature")
	}
	return authErr("no X-PagerDuty-Signature v1 signature matches the body")
}

// verifyZendesk checks X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(
// secret, timestamp + body)) with the timestamp of
// X-Zendesk-Webhook-Signature-Timestamp, which must be within
// MaxSignatureAge of now.
// https://developer.zendesk.com/documentation/webhooks/verifying/
func verifyZendesk(secret string, r *http.Request, body []byte, now time.Time) error {
	sig, ts := r.Header.Get("X-Zendesk-Webhook-Signature"), r.Header.Get("X-Zendesk-Webhook-Signature-Timestamp")
	if sig == "" || ts == "" {
		return authErr("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp")
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return authErr("X-Zendesk-Webhook-Signature-Timestamp %q is not RFC 3339", ts)
	}
	if err := fresh(at, now); err != nil {
		return err
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, hmacSHA256(secret, []byte(ts), body)) {
		return authErr("X-Zendesk-Webhook-Signature does not match")
	}
	return nil
}

// verifyHubSpot checks X-HubSpot-Signature-v3: base64(HMAC-SHA256(client
// secret, method + URI + body + timestamp)), the timestamp being
// X-HubSpot-Request-Timestamp (milliseconds), at most 5 minutes old. The
// URI is the full URL HubSpot called (publicURL + path and query when the
// gateway sits behind a proxy), with the characters HubSpot lists decoded.
// https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation
func verifyHubSpot(secret, publicURL string) func(string, *http.Request, []byte, time.Time) error {
	return func(_ string, r *http.Request, body []byte, now time.Time) error {
		sig, ts := r.Header.Get("X-HubSpot-Signature-v3"), r.Header.Get("X-HubSpot-Request-Timestamp")
		if sig == "" || ts == "" {
			return authErr("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
		}
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return authErr("X-HubSpot-Request-Timestamp %q is not milliseconds", ts)
		}
		if err := fresh(time.UnixMilli(ms), now); err != nil {
			return err
		}
		uri := hubSpotURI(requestURL(r, publicURL))
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || !hmac.Equal(got, hmacSHA256(secret, []byte(r.Method), []byte(uri), body, []byte(ts))) {
			return authErr("X-HubSpot-Signature-v3 does not match")
		}
		return nil
	}
}

// hubSpotDecode are the escapes HubSpot decodes in the URI it signs; other
// escapes (%20, %25, ...) stay as sent.
var hubSpotDecode = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$", "%27", "'",
	"%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

func hubSpotURI(u string) string { return hubSpotDecode.Replace(u) }

// requestURL is the URL the sender called: publicURL (scheme and host, as
// the sender sees the gateway) when set, else this request's scheme and
// Host; then the path and query as received.
func requestURL(r *http.Request, publicURL string) string {
	base := strings.TrimRight(publicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + r.URL.RequestURI()
}

func fresh(at, now time.Time) error {
	if d := now.Sub(at); d > MaxSignatureAge || d < -MaxSignatureAge {
		return authErr("signature timestamp %s is %s from now (more than %s): stale or replayed", at.UTC().Format(time.RFC3339), d.Round(time.Second), MaxSignatureAge)
	}
	return nil
}

// verifyBearer checks "Authorization: Bearer <token>" for /events.
func verifyBearer(token string, r *http.Request, _ []byte, _ time.Time) error {
	h := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return authErr("missing Authorization: Bearer token")
	}
	if !constantEqual(strings.TrimSpace(got), token) {
		return authErr("bearer token does not match")
	}
	return nil
}

// constantEqual compares in time independent of where a and b differ
// (and, through the hashes, of their lengths).
func constantEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

var errDisabled = errors.New("source disabled: its secret is not configured")
