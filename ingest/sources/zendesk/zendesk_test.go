package zendesk

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

var received = time.Date(2025, 3, 13, 9, 0, 0, 0, time.UTC)

func testMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Parse("test.yaml", []byte(`
version: 1
accounts:
  - id: globex
    zendesk: 360363695492
support:
  security_tags: [security, phishing]
`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func local(t *testing.T, name string) []byte { return sourcetest.Local(t, name+".json") }

func mapOne(t *testing.T, body []byte, fetch Fetch) *schemas.Event {
	t.Helper()
	r, err := Map(context.Background(), testMapping(t), Delivery{Received: received, Body: body}, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Events) != 1 {
		t.Fatalf("want one event: %+v", r)
	}
	return sourcetest.Decode(t, r.Events[0])
}

func TestMap(t *testing.T) {
	cases := []struct {
		name  string
		body  []byte
		typ   string
		check func(t *testing.T, k *schemas.Ticket)
	}{
		{"event.ticket.created", local(t, "event.ticket.created"), "support.ticket.created", func(t *testing.T, k *schemas.Ticket) {
			if k.TicketID != "zendesk:ticket/48213" || k.AccountID != "globex" || k.Status != "new" || k.Priority != "high" ||
				!k.SecurityRelated || *k.Channel != "web_form" || k.SolvedAt != nil {
				t.Errorf("%+v", k)
			}
		}},
		{"event.ticket.tags_changed", local(t, "event.ticket.tags_changed"), "support.ticket.updated", func(t *testing.T, k *schemas.Ticket) {
			if k.Status != "open" || strings.Join(k.Tags, ",") != "phishing,enterprise,security" {
				t.Errorf("%+v", k)
			}
		}},
		{"event.ticket.status_changed", local(t, "event.ticket.status_changed"), "support.ticket.solved", func(t *testing.T, k *schemas.Ticket) {
			if k.Status != "solved" || k.SolvedAt == nil || k.SolvedAt.Format(time.RFC3339) != "2025-03-12T15:02:41Z" {
				t.Errorf("%+v", k)
			}
		}},
		{"event.ticket.hold", sourcetest.Edit(t, local(t, "event.ticket.tags_changed"), map[string]any{"detail.status": "HOLD", "detail.priority": nil}),
			"support.ticket.updated", func(t *testing.T, k *schemas.Ticket) {
				if k.Status != "pending" || k.Priority != "normal" {
					t.Errorf("%+v", k)
				}
			}},
		{"trigger.ticket", local(t, "trigger.ticket"), "support.ticket.rated", func(t *testing.T, k *schemas.Ticket) {
			if k.Status != "solved" || k.CSATScore == nil || *k.CSATScore != 5 || strings.Join(k.Tags, ",") != "phishing,enterprise,security" ||
				*k.Channel != "web form" || k.CreatedAt.Format(time.RFC3339) != "2025-03-11T09:20:00Z" {
				t.Errorf("%+v", k)
			}
		}},
		{"trigger.ticket.open", sourcetest.Edit(t, local(t, "trigger.ticket"), map[string]any{"ticket.status": "Open", "ticket.satisfaction_rating.score": "Offered"}),
			"support.ticket.updated", func(t *testing.T, k *schemas.Ticket) {
				if k.Status != "open" || k.CSATScore != nil {
					t.Errorf("%+v", k)
				}
			}},
		{"trigger.ticket.created", sourcetest.Edit(t, local(t, "trigger.ticket"), map[string]any{"ticket.status": "New", "ticket.updated_at": "2025-03-11T09:20Z", "ticket.satisfaction_rating": nil}),
			"support.ticket.created", func(t *testing.T, k *schemas.Ticket) {
				if k.Status != "new" {
					t.Errorf("%+v", k)
				}
			}},
		{"api.ticket", sourcetest.Shared(t, "zendesk", "ticket.json"), "support.ticket.solved", func(t *testing.T, k *schemas.Ticket) {
			// Organization 360363695492 is globex; no rating; no metric set, so no solve time.
			if k.AccountID != "globex" || k.Status != "solved" || k.Priority != "normal" || *k.Channel != "email" || k.SecurityRelated || k.SolvedAt != nil {
				t.Errorf("%+v", k)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := mapOne(t, c.body, nil)
			if ev.Type != c.typ || ev.Source != Source {
				t.Errorf("type %s source %s, want %s", ev.Type, ev.Source, c.typ)
			}
			c.check(t, ev.Payload.(*schemas.Ticket))
			r, _ := Map(context.Background(), testMapping(t), Delivery{Received: received, Body: c.body}, nil)
			sourcetest.Golden(t, c.name, r)
		})
	}
}

func TestNotMapped(t *testing.T) {
	cases := []struct {
		name, reason string
		body         []byte
	}{
		{"user event", "not a ticket event", local(t, "event.user.created")},
		{"tags of a solved ticket", "does not carry the solve time",
			sourcetest.Edit(t, local(t, "event.ticket.tags_changed"), map[string]any{"detail.status": "SOLVED"})},
		{"closed after solved", "does not carry the solve time",
			sourcetest.Edit(t, local(t, "event.ticket.status_changed"), map[string]any{"detail.status": "CLOSED", "event.current": "CLOSED", "event.previous": "SOLVED"})},
		{"deleted", "not a change", sourcetest.Edit(t, local(t, "event.ticket.tags_changed"), map[string]any{"type": "zen:event-type:ticket.soft_deleted"})},
		{"deleted status", "not a ticket state", sourcetest.Edit(t, local(t, "event.ticket.tags_changed"), map[string]any{"detail.status": "DELETED"})},
		{"no organization", "no organization", sourcetest.Edit(t, local(t, "event.ticket.created"), map[string]any{"detail.organization_id": nil})},
		{"audits", "neither a ticket event", sourcetest.Shared(t, "zendesk", "ticket_audits.json")},
		{"other json", "neither", []byte(`{"hello":"world"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(context.Background(), testMapping(t), Delivery{Received: received, Body: c.body}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome() != "ignored" || !strings.Contains(r.Ignored, c.reason) {
				t.Errorf("got %+v, want ignored with %q", r, c.reason)
			}
		})
	}
	// An unknown rating is reported; the ticket is still mapped without it.
	r, err := Map(context.Background(), testMapping(t), Delivery{Body: sourcetest.Edit(t, local(t, "trigger.ticket"),
		map[string]any{"ticket.satisfaction_rating.score": "meh"})}, nil)
	if err != nil || len(r.Events) != 1 || len(r.Unmapped) != 1 || r.Unmapped[0].Key != "support.csat" {
		t.Errorf("%v %+v", err, r)
	}
}

// TestSharedFixtures: every published ticket payload maps to events the
// decoder accepts or is ignored with a reason.
func TestSharedFixtures(t *testing.T) {
	for _, path := range sourcetest.SharedFiles(t, "zendesk") {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			r, err := Map(context.Background(), testMapping(t), Delivery{Received: received, Body: sourcetest.Shared(t, "zendesk", name)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range r.Events {
				sourcetest.Decode(t, ev)
			}
			if r.Outcome() == "ignored" && r.Ignored == "" {
				t.Error("ignored without a reason")
			}
		})
	}
	r, _ := Map(context.Background(), testMapping(t), Delivery{Body: sourcetest.Shared(t, "zendesk", "tickets.json")}, nil)
	if len(r.Events) < 2 {
		t.Errorf("tickets.json: %+v", r)
	}
}

// TestFetch: with API access an event webhook maps the ticket's full state
// from GET /api/v2/tickets/{id}.json?include=metric_sets (a fake following
// Zendesk's documented answer), so changes after solving keep the solve
// time, the first reply and the rating.
func TestFetch(t *testing.T) {
	var gotAuth, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.RequestURI()
		if r.URL.Path != "/api/v2/tickets/48213.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(local(t, "api.ticket_metric_sets"))
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Email: "agent@globex.example", Token: "tok"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	body := sourcetest.Edit(t, local(t, "event.ticket.tags_changed"), map[string]any{"detail.status": "CLOSED"})
	ev := mapOne(t, body, c.Ticket)
	k := ev.Payload.(*schemas.Ticket)
	if gotPath != "/api/v2/tickets/48213.json?include=metric_sets" || !strings.HasPrefix(gotAuth, "Basic ") {
		t.Errorf("request %s %s", gotPath, gotAuth)
	}
	if ev.Type != "support.ticket.rated" || k.Status != "closed" || k.SolvedAt == nil || k.SolvedAt.Format(time.RFC3339) != "2025-03-12T15:02:41Z" ||
		k.FirstReplyAt == nil || k.FirstReplyAt.Sub(k.CreatedAt) != 45*time.Minute || k.CSATScore == nil || *k.CSATScore != 1 {
		t.Errorf("%s %+v", ev.Type, k)
	}
	// A ticket deleted since the event (404) maps to nothing.
	r, err := Map(context.Background(), testMapping(t), Delivery{Body: sourcetest.Edit(t, body, map[string]any{"detail.id": "1"})}, c.Ticket)
	if err != nil || r.Outcome() != "ignored" {
		t.Errorf("deleted ticket: %v %+v", err, r)
	}
	// Other API errors are errors (the gateway answers 503 so Zendesk retries).
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer down.Close()
	limited := &Client{BaseURL: down.URL, Token: "tok"}
	_, err = Map(context.Background(), testMapping(t), Delivery{Body: body}, limited.Ticket)
	var se *sources.APIError
	if !errors.As(err, &se) || se.Code != 429 || se.RetryAfter != "7" {
		t.Errorf("429: %v", err)
	}
	for _, c := range []Client{{}, {BaseURL: "ftp://x", Token: "t"}, {BaseURL: "https://x.zendesk.com"}} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

// TestTicketEventTypes: every ticket event type Zendesk documents for an
// event-subscription webhook maps (created; any other change of an open
// ticket an update) or is ignored with a reason (merged, spam, deletions),
// never an error, whatever the detail's nullable fields hold.
// https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
func TestTicketEventTypes(t *testing.T) {
	m := testMapping(t)
	updates := []string{"agent_assignment_changed", "attachment_linked_to_comment", "attachment_redacted_from_comment",
		"brand_changed", "ccs_changed", "comment_added", "comment_made_private", "comment_redacted", "custom_field_changed",
		"custom_status_changed", "description_changed", "due_date_changed", "email_ccs_changed", "external_id_changed",
		"followers_changed", "form_changed", "group_assignment_changed", "organization_changed", "priority_changed",
		"problem_link_changed", "requester_changed", "status_changed", "subject_changed", "submitter_changed",
		"tags_changed", "task_due_at_changed", "type_changed"}
	for _, kind := range updates {
		body := sourcetest.Edit(t, sourcetest.Local(t, "event.ticket.created.json"), map[string]any{
			"type": "zen:event-type:ticket." + kind, "time": "2025-03-11T10:00:00Z", "detail.updated_at": "2025-03-11T10:00:00Z",
			"detail.priority": nil, "detail.assignee_id": nil, "detail.status": "OPEN", "event": map[string]any{"previous": nil, "current": "x"}})
		r, err := Map(context.Background(), m, Delivery{Body: body}, nil)
		if err != nil || len(r.Events) != 1 || r.Events[0].Type != "support.ticket.updated" {
			t.Errorf("%s: %v %+v", kind, err, r)
		}
	}
	for _, kind := range []string{"merged", "marked_as_spam", "soft_deleted", "permanently_deleted", "undeleted"} {
		body := sourcetest.Edit(t, sourcetest.Local(t, "event.ticket.created.json"), map[string]any{"type": "zen:event-type:ticket." + kind})
		if r, err := Map(context.Background(), m, Delivery{Body: body}, nil); err != nil || r.Outcome() != "ignored" || r.Ignored == "" {
			t.Errorf("%s: %v %+v", kind, err, r)
		}
	}
}
