package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
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

// Each scheme has a check of what the headers alone decide (present,
// well-formed, fresh; the whole authentication for GitLab's token), run
// before the body is read, and a verify of the signature over the body,
// which runs the check again.

// checkGitHub reads X-Hub-Signature-256: "sha256=" + hex(HMAC-SHA256(secret,
// body)). GitHub writes the prefix in lower case; any case is read.
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
func checkGitHub(_ string, r *http.Request, _ time.Time) error {
	_, err := gitHubSignature(r)
	return err
}

func gitHubSignature(r *http.Request) ([]byte, error) {
	sig := strings.TrimSpace(r.Header.Get("X-Hub-Signature-256"))
	if sig == "" {
		return nil, authErr("missing X-Hub-Signature-256")
	}
	prefix, hexSig, ok := strings.Cut(sig, "=")
	got, err := hex.DecodeString(hexSig)
	if !ok || !strings.EqualFold(prefix, "sha256") || err != nil || len(got) != sha256.Size {
		return nil, authErr("X-Hub-Signature-256 is not sha256=<64 hex digits>")
	}
	return got, nil
}

func verifyGitHub(secret string, r *http.Request, body []byte, _ time.Time) error {
	got, err := gitHubSignature(r)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, hmacSHA256(secret, body)) {
		return authErr("X-Hub-Signature-256 does not match the body")
	}
	return nil
}

// checkGitLab checks X-Gitlab-Token, which GitLab sends verbatim: the whole
// authentication, before the body is read. The token does not cover the
// body (GitLab's documented scheme): serve the gateway over TLS.
// https://docs.gitlab.com/user/project/integrations/webhooks/#validate-payloads-by-using-a-secret-token
func checkGitLab(secret string, r *http.Request, _ time.Time) error {
	tok := r.Header.Get("X-Gitlab-Token")
	if tok == "" {
		return authErr("missing X-Gitlab-Token")
	}
	if !constantEqual(tok, secret) {
		return authErr("X-Gitlab-Token does not match")
	}
	return nil
}

func verifyGitLab(secret string, r *http.Request, _ []byte, now time.Time) error {
	return checkGitLab(secret, r, now)
}

// checkPagerDuty reads X-PagerDuty-Signature: one or more comma-separated
// "v1=" + hex(HMAC-SHA256(secret, body)) (several during a secret
// rotation), in one header line or several (a proxy may split them); other
// versions are skipped.
// https://github.com/PagerDuty/developer-docs/blob/main/docs/webhooks/04-Signatures.md
func checkPagerDuty(_ string, r *http.Request, _ time.Time) error {
	_, err := pagerDutySignatures(r)
	return err
}

func pagerDutySignatures(r *http.Request) ([][]byte, error) {
	lines := r.Header.Values("X-PagerDuty-Signature")
	if len(lines) == 0 || strings.TrimSpace(strings.Join(lines, "")) == "" {
		return nil, authErr("missing X-PagerDuty-Signature")
	}
	var sigs [][]byte
	for _, line := range lines {
		for _, s := range strings.Split(line, ",") {
			v, ok := strings.CutPrefix(strings.TrimSpace(s), "v1=")
			if !ok {
				continue
			}
			if b, err := hex.DecodeString(strings.TrimSpace(v)); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	if len(sigs) == 0 {
		return nil, authErr("X-PagerDuty-Signature has no v1=<64 hex digits> signature")
	}
	return sigs, nil
}

// verifyPagerDuty: one matching signature is enough.
func verifyPagerDuty(secret string, r *http.Request, body []byte, _ time.Time) error {
	sigs, err := pagerDutySignatures(r)
	if err != nil {
		return err
	}
	want := hmacSHA256(secret, body)
	ok := 0
	for _, got := range sigs { // every one compared: the time does not tell which matched
		ok |= subtle.ConstantTimeCompare(got, want)
	}
	if ok != 1 {
		return authErr("no X-PagerDuty-Signature v1 signature matches the body")
	}
	return nil
}

// checkZendesk reads X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(
// secret, timestamp + body)) with the timestamp of
// X-Zendesk-Webhook-Signature-Timestamp, which must be within
// MaxSignatureAge of now.
// https://developer.zendesk.com/documentation/webhooks/verifying/
func checkZendesk(_ string, r *http.Request, now time.Time) error {
	_, _, err := zendeskSignature(r, now)
	return err
}

func zendeskSignature(r *http.Request, now time.Time) ([]byte, string, error) {
	return timedSignature(r, now, "X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp", "RFC 3339",
		func(ts string) (time.Time, error) { return time.Parse(time.RFC3339, ts) })
}

// timedSignature reads the base64 HMAC-SHA256 of header sigH and the
// timestamp of header tsH (as parse reads it, a form named by what), which
// must be within MaxSignatureAge of now: Zendesk's and HubSpot's schemes.
func timedSignature(r *http.Request, now time.Time, sigH, tsH, what string, parse func(string) (time.Time, error)) ([]byte, string, error) {
	sig, ts := r.Header.Get(sigH), r.Header.Get(tsH)
	if sig == "" || ts == "" {
		return nil, "", authErr("missing %s or %s", sigH, tsH)
	}
	at, err := parse(ts)
	if err != nil {
		return nil, "", authErr("%s %q is not %s", tsH, ts, what)
	}
	if err := fresh(at, now); err != nil {
		return nil, "", err
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return nil, "", authErr("%s is not a base64 HMAC-SHA256", sigH)
	}
	return got, ts, nil
}

func verifyZendesk(secret string, r *http.Request, body []byte, now time.Time) error {
	got, ts, err := zendeskSignature(r, now)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, hmacSHA256(secret, []byte(ts), body)) {
		return authErr("X-Zendesk-Webhook-Signature does not match")
	}
	return nil
}

// checkHubSpot reads X-HubSpot-Signature-v3: base64(HMAC-SHA256(client
// secret, method + URI + body + timestamp)), the timestamp being
// X-HubSpot-Request-Timestamp (milliseconds), at most 5 minutes old.
// https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation
func checkHubSpot(_ string, r *http.Request, now time.Time) error {
	_, _, err := hubSpotSignature(r, now)
	return err
}

func hubSpotSignature(r *http.Request, now time.Time) ([]byte, string, error) {
	return timedSignature(r, now, "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "milliseconds",
		func(ts string) (time.Time, error) {
			ms, err := strconv.ParseInt(ts, 10, 64)
			return time.UnixMilli(ms), err
		})
}

// verifyHubSpot checks the signature. The URI is the full URL HubSpot
// called (publicURL + path and query as received when the gateway sits
// behind a proxy), with the characters HubSpot lists decoded.
func verifyHubSpot(secret, publicURL string) func(string, *http.Request, []byte, time.Time) error {
	return func(_ string, r *http.Request, body []byte, now time.Time) error {
		got, ts, err := hubSpotSignature(r, now)
		if err != nil {
			return err
		}
		uri := hubSpotURI(requestURL(r, publicURL))
		if !hmac.Equal(got, hmacSHA256(secret, []byte(r.Method), []byte(uri), body, []byte(ts))) {
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

// verifyBearer checks "Authorization: Bearer <token>" for /events (the
// scheme name in any case, RFC 9110).
func verifyBearer(token string, r *http.Request, _ time.Time) error {
	h := r.Header.Get("Authorization")
	scheme, got, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
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
