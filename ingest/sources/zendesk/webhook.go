package zendesk

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

// Delivery is one webhook delivery.
type Delivery struct {
	Received time.Time
	Body     []byte
}

// Fetch returns a ticket's current state (with its metric_set and
// satisfaction rating) from the Zendesk API; see Client.
type Fetch func(ctx context.Context, id string) (*Ticket, error)

// eventEnvelope is an event-subscription webhook.
type eventEnvelope struct {
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	Time   sources.Time    `json:"time"`
	Detail *Ticket         `json:"detail"`
	Event  json.RawMessage `json:"event"`
}

const ticketEventPrefix = "zen:event-type:ticket."

// Map maps one webhook delivery: an event-subscription webhook
// (zen:event-type:ticket.*) or a body of ticket objects ({"ticket": ...},
// {"tickets": [...]}: the API shape, and the recommended trigger template).
//
// Event webhooks carry the ticket's fields but not its solve time, first
// reply or rating. With fetch (Zendesk API access configured) the gateway
// reads the ticket's full current state and maps that, dated by its
// updated_at, like an import. Without it, it maps what the event carries:
// a ticket becoming solved is solved at the event's time; any other event
// of a solved or closed ticket is ignored, because publishing it without
// its solve time would erase the solve time from the ticket's latest
// state.
func Map(ctx context.Context, m *mapping.File, d Delivery, fetch Fetch) (sources.Result, error) {
	if m == nil {
		m = &mapping.File{}
	}
	var probe struct {
		Type    *string           `json:"type"`
		Ticket  *Ticket           `json:"ticket"`
		Tickets []json.RawMessage `json:"tickets"`
	}
	if err := json.Unmarshal(d.Body, &probe); err != nil {
		return sources.Result{}, fmt.Errorf("decode Zendesk webhook: %w", err)
	}
	switch {
	case probe.Type != nil:
		return mapEvent(ctx, m, d, fetch)
	case probe.Ticket != nil:
		return MapTicket(m, probe.Ticket)
	case probe.Tickets != nil:
		var out sources.Result
		for i, raw := range probe.Tickets {
			var t Ticket
			if err := json.Unmarshal(raw, &t); err != nil {
				return sources.Result{}, fmt.Errorf("tickets[%d]: %w", i, err)
			}
			r, err := MapTicket(m, &t)
			if err != nil {
				return sources.Result{}, fmt.Errorf("tickets[%d]: %w", i, err)
			}
			out.Add(r)
		}
		if len(probe.Tickets) == 0 {
			out = sources.Ignore("an empty ticket list")
		}
		return out, nil
	}
	return sources.Ignore("neither a ticket event nor ticket objects (see the recommended trigger template)"), nil
}

func mapEvent(ctx context.Context, m *mapping.File, d Delivery, fetch Fetch) (sources.Result, error) {
	var env eventEnvelope
	if err := json.Unmarshal(d.Body, &env); err != nil {
		return sources.Result{}, fmt.Errorf("decode Zendesk event: %w", err)
	}
	kind, ok := strings.CutPrefix(env.Type, ticketEventPrefix)
	if !ok {
		return sources.Ignore("%s: not a ticket event", env.Type), nil
	}
	if env.Detail == nil || env.Detail.ID.Zero() {
		return sources.Result{}, fmt.Errorf("%s: no detail.id", env.Type)
	}
	switch kind {
	case "merged", "marked_as_spam", "soft_deleted", "permanently_deleted", "undeleted":
		return sources.Ignore("%s: not a change of the ticket's contract state", env.Type), nil
	}
	if fetch != nil {
		t, err := fetch(ctx, string(env.Detail.ID))
		if err != nil {
			return sources.Result{}, fmt.Errorf("%s: fetch ticket %s: %w", env.Type, env.Detail.ID, err)
		}
		return MapTicket(m, t)
	}
	at := env.Time.Time
	if at.IsZero() {
		return sources.Result{}, fmt.Errorf("%s: no time", env.Type)
	}
	t := env.Detail
	if t.CreatedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("%s: no detail.created_at", env.Type)
	}
	data, res, err := ticketData(m, t)
	if data == nil || err != nil {
		return res, err
	}
	typ := "support.ticket.updated"
	switch {
	case kind == "created":
		typ = "support.ticket.created"
	case data.Status == "solved" || data.Status == "closed":
		var change struct {
			Current string `json:"current"`
		}
		_ = json.Unmarshal(env.Event, &change) // absent or another shape: not a status change
		if kind != "status_changed" || !strings.EqualFold(change.Current, "solved") {
			return sources.Ignore("%s of a %s ticket: the event does not carry the solve time; configure Zendesk API access to map it", env.Type, data.Status), nil
		}
		typ = "support.ticket.solved"
		data.SolvedAt = sources.Ptr(at.UTC())
	}
	res.Events = []sources.Event{event(data, typ, at)}
	return res, nil
}
