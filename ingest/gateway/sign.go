package gateway

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Sign sets the headers with which the vendor of source authenticates a
// webhook request carrying body, signed with secret at time now: what
// GitHub, GitLab, PagerDuty, Zendesk and HubSpot do, for tests, the
// benchmark and anyone forwarding deliveries. For HubSpot, req's URL must
// be the URL the gateway sees (or its PublicURL), method and path included.
// For events it sets the bearer token.
func Sign(source, secret string, req *http.Request, body []byte, now time.Time) error {
	h := req.Header
	switch source {
	case GitHub:
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(hmacSHA256(secret, body)))
	case GitLab:
		h.Set("X-Gitlab-Token", secret)
	case PagerDuty:
		h.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(hmacSHA256(secret, body)))
	case Zendesk:
		ts := now.UTC().Format(time.RFC3339)
		h.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
		h.Set("X-Zendesk-Webhook-Signature", base64.StdEncoding.EncodeToString(hmacSHA256(secret, []byte(ts), body)))
	case HubSpot:
		ts := strconv.FormatInt(now.UnixMilli(), 10)
		uri := hubSpotURI(req.URL.String())
		h.Set("X-HubSpot-Request-Timestamp", ts)
		h.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(hmacSHA256(secret, []byte(req.Method), []byte(uri), body, []byte(ts))))
	case Events:
		h.Set("Authorization", "Bearer "+secret)
	default:
		return fmt.Errorf("sign: unknown source %q", source)
	}
	return nil
}
