package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/github"
	"github.com/secimpact/impact/ingest/sources/gitlab"
	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/pagerduty"
	"github.com/secimpact/impact/ingest/sources/zendesk"
)

// source is one webhook source: how to authenticate a request, which of
// its headers the mapper needs (kept on the raw message for replay), and
// the mapper.
type source struct {
	check   func(secret string, r *http.Request, now time.Time) error // the headers alone, before the body is read
	verify  func(secret string, r *http.Request, body []byte, now time.Time) error
	headers []string
	mapFn   func(ctx context.Context, meta http.Header, body []byte, received time.Time) (sources.Result, error)
}

// meta keeps the headers the mapper and a replay need.
func (s *source) meta(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range s.headers {
		if v := h.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

func (g *Gateway) buildSources() map[string]*source { return newSources(&g.cfg, g.m) }

func newSources(cfg *Config, m *mapping.File) map[string]*source {
	return map[string]*source{
		GitHub: {
			check:   checkGitHub,
			verify:  verifyGitHub,
			headers: []string{"X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID"},
			mapFn: func(_ context.Context, meta http.Header, body []byte, received time.Time) (sources.Result, error) {
				return github.Map(m, github.Delivery{Event: meta.Get("X-GitHub-Event"), Received: received, Body: body})
			},
		},
		GitLab: {
			check:   checkGitLab,
			verify:  verifyGitLab,
			headers: []string{"X-Gitlab-Event", "X-Gitlab-Event-UUID", "X-Gitlab-Instance"},
			mapFn: func(_ context.Context, meta http.Header, body []byte, received time.Time) (sources.Result, error) {
				return gitlab.Map(m, gitlab.Delivery{Event: meta.Get("X-Gitlab-Event"), Received: received, Body: body})
			},
		},
		PagerDuty: {
			check:   checkPagerDuty,
			verify:  verifyPagerDuty,
			headers: []string{"X-Webhook-Id", "X-Webhook-Subscription"},
			mapFn: func(_ context.Context, _ http.Header, body []byte, received time.Time) (sources.Result, error) {
				return pagerduty.Map(m, pagerduty.Delivery{Received: received, Body: body})
			},
		},
		Zendesk: {
			check:   checkZendesk,
			verify:  verifyZendesk,
			headers: []string{"X-Zendesk-Webhook-Id", "X-Zendesk-Webhook-Invocation-Id"},
			mapFn: func(ctx context.Context, _ http.Header, body []byte, received time.Time) (sources.Result, error) {
				var fetch zendesk.Fetch
				if cfg.Zendesk != nil {
					fetch = func(ctx context.Context, id string) (*zendesk.Ticket, error) {
						t, err := cfg.Zendesk.Ticket(ctx, id)
						return t, upstream(err)
					}
				}
				return zendesk.Map(ctx, m, zendesk.Delivery{Received: received, Body: body}, fetch)
			},
		},
		HubSpot: {
			check:   checkHubSpot,
			verify:  verifyHubSpot(cfg.Secrets.HubSpot, cfg.PublicURL),
			headers: nil,
			mapFn: func(ctx context.Context, _ http.Header, body []byte, received time.Time) (sources.Result, error) {
				var fetch hubspot.FetchDeal
				if cfg.HubSpot != nil {
					fetch = func(ctx context.Context, id string, props []string) (*hubspot.Deal, error) {
						d, err := cfg.HubSpot.Deal(ctx, id, props)
						return d, upstream(err)
					}
				}
				return hubspot.Map(ctx, m, hubspot.Delivery{Received: received, Body: body}, fetch)
			},
		},
	}
}

// upstream marks a vendor API error: the delivery is answered 503 so the
// vendor retries it, with the API's Retry-After when it sent one.
func upstream(err error) error {
	if err == nil {
		return nil
	}
	ue := &upstreamError{err: err}
	var ae *sources.APIError
	if errors.As(err, &ae) {
		ue.retryAfter = retryAfter(ae.RetryAfter)
	}
	return ue
}
