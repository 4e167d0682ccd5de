package pagerduty

import (
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

var received = time.Date(2025, 3, 11, 9, 0, 0, 0, time.UTC)

func testMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Parse("test.yaml", []byte(`
version: 1
services:
  - id: payments-api
    pagerduty: ["API Service"]
  - id: secops
    pagerduty: PSEC001
incidents:
  pagerduty:
    services: [PSEC001]
    priorities: [P1]
`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func local(t *testing.T) []byte { return sourcetest.Local(t, "incident.triggered.json") }

// priorityUpdated is PagerDuty's published example, with the created_at
// current V3 payloads carry.
func priorityUpdated(t *testing.T) []byte {
	return sourcetest.Edit(t, sourcetest.Shared(t, "pagerduty", "incident.priority_updated.json"),
		map[string]any{"event.data.created_at": "2021-04-26T17:30:00Z"})
}

func TestMap(t *testing.T) {
	m := testMapping(t)
	cases := []struct {
		name  string
		body  []byte
		typ   string
		check func(t *testing.T, i *schemas.Incident)
	}{
		{"incident.triggered", local(t), "security.incident.detected", func(t *testing.T, i *schemas.Incident) {
			if i.Status != "open" || i.Severity != "high" || i.IncidentID != "pagerduty:incident/Q2KZNW1YH3QXLT" ||
				strings.Join(i.AffectedServiceIDs, ",") != "secops" || i.Category != "security_incident" || i.ResolvedAt != nil ||
				len(i.AffectedAccountIDs) != 0 || i.DetectedAt.Format(time.RFC3339) != "2025-03-11T07:42:18Z" {
				t.Errorf("%+v", i)
			}
		}},
		{"incident.acknowledged", sourcetest.Edit(t, local(t), map[string]any{"event.event_type": "incident.acknowledged",
			"event.occurred_at": "2025-03-11T07:50:00Z", "event.data.status": "acknowledged"}), "security.incident.updated",
			func(t *testing.T, i *schemas.Incident) {
				if i.Status != "open" {
					t.Errorf("%+v", i)
				}
			}},
		{"incident.resolved", sourcetest.Edit(t, local(t), map[string]any{"event.event_type": "incident.resolved",
			"event.occurred_at": "2025-03-11T10:15:00Z", "event.data.status": "resolved"}), "security.incident.resolved",
			func(t *testing.T, i *schemas.Incident) {
				if i.Status != "resolved" || i.ResolvedAt == nil || i.ResolvedAt.Format(time.RFC3339) != "2025-03-11T10:15:00Z" {
					t.Errorf("%+v", i)
				}
			}},
		{"incident.reopened", sourcetest.Edit(t, local(t), map[string]any{"event.event_type": "incident.reopened",
			"event.occurred_at": "2025-03-12T08:00:00Z"}), "security.incident.updated", func(t *testing.T, i *schemas.Incident) {
			if i.Status != "open" || i.ResolvedAt != nil {
				t.Errorf("%+v", i)
			}
		}},
		{"incident.priority_updated", priorityUpdated(t), "security.incident.updated", func(t *testing.T, i *schemas.Incident) {
			// P1 makes it a security incident on any service; the service
			// maps through services by name.
			if i.Severity != "critical" || strings.Join(i.AffectedServiceIDs, ",") != "payments-api" {
				t.Errorf("%+v", i)
			}
		}},
		{"incident.urgency", sourcetest.Edit(t, local(t), map[string]any{"event.data.priority": nil, "event.data.urgency": "low"}),
			"security.incident.detected", func(t *testing.T, i *schemas.Incident) {
				if i.Severity != "low" {
					t.Errorf("%+v", i)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(m, Delivery{Received: received, Body: c.body})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Events) != 1 {
				t.Fatalf("%+v", r)
			}
			ev := sourcetest.Decode(t, r.Events[0])
			if ev.Type != c.typ || ev.Source != Source {
				t.Errorf("%s %s", ev.Type, ev.Source)
			}
			c.check(t, ev.Payload.(*schemas.Incident))
			sourcetest.Golden(t, c.name, r)
		})
	}
}

func TestNotMapped(t *testing.T) {
	m := testMapping(t)
	cases := []struct {
		name    string
		m       *mapping.File
		body    []byte
		outcome string
		detail  string
	}{
		{"not a security service", m, sourcetest.Edit(t, local(t), map[string]any{"event.data.service.id": "POTHER", "event.data.service.summary": "Web"}),
			"ignored", "not a security incident"},
		{"default mapping", nil, local(t), "ignored", "not a security incident"},
		{"note", m, sourcetest.Local(t, "incident.annotated.json"), "ignored", "incident_note"},
		{"service event", m, sourcetest.Local(t, "service.updated.json"), "ignored", "not an incident event"},
		{"shared example without created_at", m, sourcetest.Shared(t, "pagerduty", "incident.priority_updated.json"), "ignored", "no created_at"},
		{"unknown priority", m, sourcetest.Edit(t, local(t), map[string]any{"event.data.priority.summary": "SEV-X"}), "unmapped", "incidents.pagerduty.severity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(c.m, Delivery{Received: received, Body: c.body})
			if err != nil {
				t.Fatal(err)
			}
			got := r.Ignored
			if len(r.Unmapped) > 0 {
				got = r.Unmapped[0].Key + " " + r.Unmapped[0].Value
			}
			if r.Outcome() != c.outcome || !strings.Contains(got, c.detail) {
				t.Errorf("got %s %q, want %s %q", r.Outcome(), got, c.outcome, c.detail)
			}
		})
	}
}

func TestSharedFixtures(t *testing.T) {
	for _, path := range sourcetest.SharedFiles(t, "pagerduty") {
		r, err := Map(testMapping(t), Delivery{Received: received, Body: sourcetest.Shared(t, "pagerduty", path[strings.LastIndex(path, "/")+1:])})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, ev := range r.Events {
			sourcetest.Decode(t, ev)
		}
		if r.Outcome() == "ignored" && r.Ignored == "" {
			t.Errorf("%s: ignored without a reason", path)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, body := range []string{`{`, `{"event":{}}`, `{"event":{"event_type":"incident.triggered","resource_type":"incident","data":{"id":"X","type":"incident","status":"weird","created_at":"2025-01-01T00:00:00Z","service":{"id":"PSEC001"}},"occurred_at":"2025-01-01T00:00:00Z"}}`,
		`{"event":{"event_type":"incident.triggered","resource_type":"incident","data":{"id":"X","type":"incident"}}}`} {
		if r, err := Map(testMapping(t), Delivery{Body: []byte(body)}); err == nil {
			t.Errorf("%s: %+v", body, r)
		}
	}
}

// TestIDs: the id is the change's (incident, type, occurred_at), the same
// for a redelivery and for an import of the incident's log entry.
func TestIDs(t *testing.T) {
	r1, _ := Map(testMapping(t), Delivery{Received: received, Body: local(t)})
	r2, _ := Map(testMapping(t), Delivery{Received: received.Add(time.Hour), Body: local(t)})
	want := sources.ChangeID(System, "pagerduty:incident/Q2KZNW1YH3QXLT", "security.incident.detected", time.Date(2025, 3, 11, 7, 42, 18, 214e6, time.UTC))
	if r1.Events[0].ID != want || r2.Events[0].ID != want {
		t.Errorf("%s %s, want %s", r1.Events[0].ID, r2.Events[0].ID, want)
	}
}

// TestEventTypes: every V3 event type PagerDuty documents for a webhook
// subscription maps or is ignored with a reason, never an error. Changes
// of the incident itself (its data is the incident) are updates; events
// whose data is another object (a note, a responder request, a status
// update, a conference bridge, custom field values, a workflow instance)
// and service and ping events are ignored.
// https://developer.pagerduty.com/docs/webhooks/v3-overview/ (event types)
func TestEventTypes(t *testing.T) {
	m := testMapping(t)
	incident := map[string]string{
		"incident.triggered": "security.incident.detected", "incident.acknowledged": "security.incident.updated",
		"incident.unacknowledged": "security.incident.updated", "incident.delegated": "security.incident.updated",
		"incident.escalated": "security.incident.updated", "incident.reassigned": "security.incident.updated",
		"incident.reopened": "security.incident.updated", "incident.priority_updated": "security.incident.updated",
		"incident.incident_type.changed": "security.incident.updated", "incident.resolved": "security.incident.resolved",
	}
	for typ, want := range incident {
		status := "triggered"
		if typ == "incident.resolved" {
			status = "resolved"
		}
		r, err := Map(m, Delivery{Received: received, Body: sourcetest.Edit(t, local(t), map[string]any{"event.event_type": typ, "event.data.status": status})})
		if err != nil || len(r.Events) != 1 || r.Events[0].Type != want {
			t.Errorf("%s: %v %+v, want %s", typ, err, r, want)
		}
	}
	other := map[string]string{
		"incident.annotated": "incident_note", "incident.responder.added": "incident_responder_request",
		"incident.responder.replied": "incident_responder_request", "incident.status_update_published": "status_update",
		"incident.conference_bridge.updated": "incident_conference_bridge", "incident.custom_field_values.updated": "incident_field_values",
		"incident.workflow.started": "incident_workflow_instance", "incident.workflow.completed": "incident_workflow_instance",
	}
	for typ, dataType := range other {
		body := sourcetest.Edit(t, local(t), map[string]any{"event.event_type": typ,
			"event.data": map[string]any{"id": "X1", "type": dataType, "incident": map[string]any{"id": "Q2KZNW1YH3QXLT", "type": "incident_reference"}}})
		if r, err := Map(m, Delivery{Received: received, Body: body}); err != nil || r.Outcome() != "ignored" || !strings.Contains(r.Ignored, dataType) {
			t.Errorf("%s: %v %+v", typ, err, r)
		}
	}
	for _, typ := range []string{"service.created", "service.updated", "service.deleted", "pagey.ping"} {
		res, _, _ := strings.Cut(typ, ".")
		body := []byte(`{"event":{"id":"E1","event_type":"` + typ + `","resource_type":"` + res + `","occurred_at":"2025-03-11T07:42:18Z","data":{"id":"P1","type":"` + res + `"}}}`)
		if r, err := Map(m, Delivery{Received: received, Body: body}); err != nil || r.Outcome() != "ignored" {
			t.Errorf("%s: %v %+v", typ, err, r)
		}
	}
}
