package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/secimpact/impact/ingest/sources"
)

// DefaultBaseURL is HubSpot's API host.
const DefaultBaseURL = "https://api.hubapi.com"

// Client reads deals from the HubSpot CRM v3 API with a private app's
// access token (scope crm.objects.deals.read). The zero value needs Token.
type Client struct {
	BaseURL string // default DefaultBaseURL
	Token   string // private app access token; sent as a bearer token
	// HTTP is the client used; default sources.DefaultHTTPClient.
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
	var d Deal
	found, err := sources.GetJSON(c.HTTP, req, "hubspot", &d)
	switch {
	case err != nil:
		return nil, fmt.Errorf("get hubspot deal %s: %w", id, err)
	case !found:
		return &Deal{ID: id, Archived: true}, nil
	case d.ID == "":
		return nil, fmt.Errorf("hubspot deal %s: the answer has no id", id)
	}
	return &d, nil
}
