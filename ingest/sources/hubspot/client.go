package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is HubSpot's API host.
const DefaultBaseURL = "https://api.hubapi.com"

// Client reads deals from the HubSpot CRM v3 API with a private app's
// access token (scope crm.objects.deals.read). The zero value needs Token.
type Client struct {
	BaseURL string // default DefaultBaseURL
	Token   string // private app access token; sent as a bearer token
	// HTTP is the client used; default one with a 10 s timeout.
	HTTP *http.Client
}

// Validate names the first missing or bad field.
func (c *Client) Validate() error {
	if c.Token == "" {
		return errors.New("hubspot client: Token (a private app access token) is empty")
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("hubspot client: BaseURL %q is not an http(s) URL", c.BaseURL)
		}
	}
	return nil
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// StatusError is a non-2xx answer of the API.
type StatusError struct {
	Code       int
	RetryAfter string // Retry-After of a 429 (HubSpot's rate limit) or 5xx
	Body       string // the first 512 bytes
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("hubspot API answered %d: %s", e.Code, e.Body)
}

// Deal returns deal id with the given properties and its company
// associations: GET /crm/v3/objects/deals/{id}?properties=...&associations=companies.
// A deal HubSpot no longer has (404) is returned archived, so it maps to
// nothing.
func (c *Client) Deal(ctx context.Context, id string, properties []string) (*Deal, error) {
	q := url.Values{}
	q.Set("properties", strings.Join(properties, ","))
	q.Set("associations", "companies")
	u := strings.TrimRight(c.BaseURL, "/")
	if u == "" {
		u = DefaultBaseURL
	}
	u += "/crm/v3/objects/deals/" + url.PathEscape(id) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get hubspot deal %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("read hubspot deal %s: %w", id, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return &Deal{ID: id, Archived: true}, nil
	}
	if resp.StatusCode/100 != 2 {
		return nil, &StatusError{Code: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: string(body[:min(len(body), 512)])}
	}
	var d Deal
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("decode hubspot deal %s: %w", id, err)
	}
	if d.ID == "" {
		return nil, fmt.Errorf("hubspot deal %s: the answer has no id", id)
	}
	return &d, nil
}
