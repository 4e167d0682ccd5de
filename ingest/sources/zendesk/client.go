package zendesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/secimpact/impact/ingest/sources"
)

// Client reads tickets from the Zendesk Support API, for the gateway to map
// a ticket's full state after an event webhook. The zero value is not
// usable: set BaseURL and Token.
type Client struct {
	// BaseURL is the account's API base, e.g. https://acme.zendesk.com.
	BaseURL string
	// Email and Token authenticate with an API token ({email}/token:{token},
	// HTTP basic). Without Email, Token is an OAuth access token (bearer).
	Email string
	Token string
	// HTTP is the client used; default sources.DefaultHTTPClient.
	HTTP *http.Client
}

// Validate names the first missing or bad field.
func (c *Client) Validate() error {
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		return errors.New("zendesk client: BaseURL is empty")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return fmt.Errorf("zendesk client: BaseURL %q is not an http(s) URL", c.BaseURL)
	case c.Token == "":
		return errors.New("zendesk client: Token is empty")
	}
	return nil
}

// Ticket returns ticket id with its metric set
// (GET /api/v2/tickets/{id}.json?include=metric_sets).
func (c *Client) Ticket(ctx context.Context, id string) (*Ticket, error) {
	u := strings.TrimRight(c.BaseURL, "/") + "/api/v2/tickets/" + url.PathEscape(id) + ".json?include=metric_sets"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.Email != "" {
		req.SetBasicAuth(c.Email+"/token", c.Token)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	var out struct {
		Ticket     *Ticket `json:"ticket"`
		MetricSets []struct {
			TicketID json.Number `json:"ticket_id"`
			MetricSet
		} `json:"metric_sets"`
	}
	found, err := sources.GetJSON(c.HTTP, req, "zendesk", &out)
	if err != nil {
		return nil, fmt.Errorf("get zendesk ticket %s: %w", id, err)
	}
	if !found { // deleted since the event: nothing to map
		return &Ticket{ID: sources.ID(id), Status: "deleted"}, nil
	}
	if out.Ticket == nil {
		return nil, fmt.Errorf("zendesk ticket %s: no ticket in the answer", id)
	}
	if out.Ticket.MetricSet == nil {
		for i := range out.MetricSets {
			if out.MetricSets[i].TicketID.String() == string(out.Ticket.ID) {
				out.Ticket.MetricSet = &out.MetricSets[i].MetricSet
			}
		}
	}
	return out.Ticket, nil
}
