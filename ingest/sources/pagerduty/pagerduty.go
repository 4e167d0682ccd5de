// Package pagerduty maps PagerDuty incidents (V3 webhook deliveries, and
// the incident objects of the REST API) onto security.incident.* events,
// for the incidents the mapping file names as security incidents
// (incidents.pagerduty: services or priorities). Every other incident is
// ignored: an outage is not a security incident.
package pagerduty

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// System is the source system name in event ids and the mapping file.
const System = "pagerduty"

// Source is the CloudEvents source attribute of PagerDuty events. With the
// id it is an event's identity, so the gateway and the importer use it
// alike.
const Source = "pagerduty"

// IncidentID is the contract incident_id of a PagerDuty incident id.
func IncidentID(id string) string { return "pagerduty:incident/" + id }

// Reference is a PagerDuty object reference (service, priority, team, ...).
type Reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Name    string `json:"name"` // full objects (REST API) carry name as well as summary
}

// Label is the reference's human name.
func (r *Reference) Label() string { return sources.Or(r.Summary, r.Name) }

// Incident is a PagerDuty incident as V3 webhooks and the REST API carry it.
type Incident struct {
	ID        string       `json:"id"`
	Type      string       `json:"type"` // "incident"
	Number    int64        `json:"number"`
	Title     string       `json:"title"`
	Status    string       `json:"status"` // triggered, acknowledged, resolved
	CreatedAt sources.Time `json:"created_at"`
	// ResolvedAt is in REST API objects (resolved_at); webhooks date the
	// resolution by the event's occurred_at.
	ResolvedAt sources.Time `json:"resolved_at"`
	Service    Reference    `json:"service"`
	Priority   *Reference   `json:"priority"`
	Urgency    string       `json:"urgency"`
	Teams      []Reference  `json:"teams"`
	HTMLURL    string       `json:"html_url"`
}

// Delivery is one V3 webhook delivery.
type Delivery struct {
	Received time.Time
	Body     []byte
}

type envelope struct {
	Event struct {
		ID           string          `json:"id"`
		EventType    string          `json:"event_type"`
		ResourceType string          `json:"resource_type"`
		OccurredAt   sources.Time    `json:"occurred_at"`
		Data         json.RawMessage `json:"data"`
	} `json:"event"`
}

// eventType maps a V3 incident event type to the contract: triggered is the
// detection, resolved the resolution; every other change of an incident
// (acknowledged, unacknowledged, reopened, priority_updated, escalated,
// reassigned, delegated, ...) is an update carrying its current state.
func eventType(t string) string {
	switch t {
	case "incident.triggered":
		return "security.incident.detected"
	case "incident.resolved":
		return "security.incident.resolved"
	}
	return "security.incident.updated"
}

// Map maps one V3 webhook delivery (see Incident for the rules). Events
// about other resources (services, ...), incident events whose data is not
// the incident (notes, responder requests, status updates), and incidents
// that are not security incidents are ignored with the reason.
func Map(m *mapping.File, d Delivery) (sources.Result, error) {
	var env envelope
	if err := json.Unmarshal(d.Body, &env); err != nil {
		return sources.Result{}, fmt.Errorf("decode PagerDuty webhook: %w", err)
	}
	ev := &env.Event
	if ev.EventType == "" {
		return sources.Result{}, fmt.Errorf("PagerDuty webhook: no event.event_type (not a V3 webhook)")
	}
	if ev.ResourceType != "incident" {
		return sources.Ignore("%s: not an incident event", ev.EventType), nil
	}
	var inc Incident
	if err := json.Unmarshal(ev.Data, &inc); err != nil {
		return sources.Result{}, fmt.Errorf("decode %s data: %w", ev.EventType, err)
	}
	if inc.Type != "incident" {
		return sources.Ignore("%s: its data is a %s, not the incident's state", ev.EventType, sources.Or(inc.Type, "different object")), nil
	}
	at := ev.OccurredAt.Time
	if at.IsZero() {
		return sources.Result{}, fmt.Errorf("%s: no occurred_at", ev.EventType)
	}
	if inc.CreatedAt.IsZero() && ev.EventType == "incident.triggered" {
		inc.CreatedAt = ev.OccurredAt // triggering is the detection
	}
	typ := eventType(ev.EventType)
	if typ == "security.incident.resolved" && inc.ResolvedAt.IsZero() {
		inc.ResolvedAt = ev.OccurredAt
	}
	return MapIncident(m, &inc, typ, at)
}

// MapIncident maps the state of a PagerDuty incident after a change of
// contract type typ at time at (from a webhook or an incident's log
// entries): a security.incident.* event when the mapping file names its
// service or priority as security, else ignored. Severity comes from
// incidents.pagerduty.severity (priority) or .urgency; an unlisted
// priority is reported as unmapped. The affected service is the incident's
// service through the mapping file's services; PagerDuty knows no customer
// accounts, so affected_account_ids is empty.
func MapIncident(m *mapping.File, inc *Incident, typ string, at time.Time) (sources.Result, error) {
	if m == nil {
		m = &mapping.File{}
	}
	if inc.ID == "" {
		return sources.Result{}, fmt.Errorf("incident without id")
	}
	priority := ""
	if inc.Priority != nil {
		priority = inc.Priority.Label()
	}
	if !m.SecurityIncident(inc.Service.ID, inc.Service.Label(), priority) {
		return sources.Ignore("incident %s on service %q (priority %q) is not a security incident in the mapping file",
			inc.ID, inc.Service.Label(), priority), nil
	}
	if inc.CreatedAt.IsZero() {
		return sources.Ignore("incident %s: the payload has no created_at, so its detection time is unknown (current V3 payloads carry it)", inc.ID), nil
	}
	var status string
	switch strings.ToLower(inc.Status) {
	case "triggered", "acknowledged":
		status = "open"
	case "resolved":
		status = "resolved"
	default:
		return sources.Result{}, fmt.Errorf("incident %s: status %q has no contract status", inc.ID, inc.Status)
	}
	severity, u := m.IncidentSeverity(priority, inc.Urgency)
	if u != nil {
		return sources.Result{Unmapped: []sources.Unmapped{*u}}, nil
	}
	service := inc.Service.Label()
	if service == "" {
		service = inc.Service.ID
	}
	data := &schemas.Incident{
		IncidentID:         IncidentID(inc.ID),
		Severity:           severity,
		Category:           m.IncidentCategory(),
		Status:             status,
		AffectedServiceIDs: []string{},
		AffectedAccountIDs: []string{},
		DetectedAt:         inc.CreatedAt.UTC(),
	}
	if service != "" {
		s := m.Service(mapping.PagerDutyS, inc.Service.ID, "")
		if s == "" {
			s = m.Service(mapping.PagerDutyS, service, service)
		}
		data.AffectedServiceIDs = []string{s}
	}
	if status == "resolved" {
		data.ResolvedAt = inc.ResolvedAt.Ptr()
	}
	return sources.Mapped(sources.Event{
		ID:     sources.ChangeID(System, data.IncidentID, typ, at),
		Source: Source,
		Type:   typ,
		Time:   at.UTC(),
		Data:   data,
	}), nil
}
