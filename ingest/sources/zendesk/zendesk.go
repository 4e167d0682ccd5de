// Package zendesk maps Zendesk tickets onto support.ticket.* events. It
// reads three shapes:
//
//   - event-subscription webhooks (type zen:event-type:ticket.*, the ticket
//     in detail), which Zendesk sends for ticket events when a webhook
//     subscribes to them;
//   - ticket objects, {"ticket": {...}} or {"tickets": [...]}, as the REST
//     API returns them (optionally with metric_set, satisfaction_rating) and
//     as a trigger or automation webhook sends them with the body template
//     recommended in docs/gateway.md;
//   - the same ticket objects from exports (the importer).
//
// Which organization is which account comes from the mapping file
// (accounts[].zendesk); tickets without an organization are ignored, as no
// account can be named for them.
package zendesk

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
const System = "zendesk"

// Source is the CloudEvents source attribute of Zendesk events. With the
// id it is an event's identity, so the gateway and the importer use it
// alike.
const Source = "zendesk"

// TicketID is the contract ticket_id of a Zendesk ticket id.
func TicketID(id string) string { return "zendesk:ticket/" + id }

// Ticket is a Zendesk ticket as the REST API, the export and the
// recommended trigger template carry it; ids may be numbers or strings.
type Ticket struct {
	ID             sources.ID      `json:"id"`
	Status         string          `json:"status"`
	Priority       *string         `json:"priority"`
	Tags           sources.Strings `json:"tags"`
	OrganizationID sources.ID      `json:"organization_id"`
	Via            Via             `json:"via"`
	CreatedAt      sources.Time    `json:"created_at"`
	UpdatedAt      sources.Time    `json:"updated_at"`
	// SatisfactionRating is the legacy CSAT rating of the ticket.
	SatisfactionRating *Rating `json:"satisfaction_rating"`
	// MetricSet is included by the API with ?include=metric_sets and by the
	// incremental export; it dates the first reply and the solution.
	MetricSet *MetricSet `json:"metric_set"`
	// SolvedAt is set by the recommended trigger template's solve trigger
	// ({{ticket.updated_at_with_timestamp}} when the status becomes solved).
	SolvedAt sources.Time `json:"solved_at"`
}

// Via is how a ticket came in; the API sends an object, a trigger
// placeholder ({{ticket.via}}) a string.
type Via struct{ Channel string }

// UnmarshalJSON accepts {"channel": "email", ...} or "Web form".
func (v *Via) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v.Channel = s
		return nil
	}
	var o struct {
		Channel string `json:"channel"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	v.Channel = o.Channel
	return nil
}

// Rating is a satisfaction rating: score good, bad, offered or unoffered
// (legacy CSAT), a number 1-5, or the text of {{satisfaction.current_rating}}.
type Rating struct {
	Score     json.RawMessage `json:"score"`
	UpdatedAt sources.Time    `json:"updated_at"`
	CreatedAt sources.Time    `json:"created_at"`
}

// MetricSet holds the ticket metrics the contract uses.
type MetricSet struct {
	SolvedAt         sources.Time `json:"solved_at"`
	ReplyTimeMinutes struct {
		Calendar *float64 `json:"calendar"`
	} `json:"reply_time_in_minutes"`
}

// contractStatus maps a Zendesk status (any case) to the contract: hold
// (waiting on a third party) is pending; deleted and archived tickets have
// no contract status.
func contractStatus(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "new":
		return "new", true
	case "open":
		return "open", true
	case "pending", "hold", "on-hold", "on hold":
		return "pending", true
	case "solved":
		return "solved", true
	case "closed":
		return "closed", true
	}
	return "", false
}

// contractPriority maps a Zendesk priority; an unset priority is normal,
// the priority Zendesk treats unprioritised tickets as.
func contractPriority(p *string) (string, bool) {
	if p == nil || strings.TrimSpace(*p) == "" || *p == "-" {
		return "normal", true
	}
	switch v := strings.ToLower(strings.TrimSpace(*p)); v {
	case "low", "normal", "high", "urgent":
		return v, true
	}
	return "", false
}

// rating maps a satisfaction score to 1-5; ok is false when the ticket has
// not been rated (offered, unoffered, empty).
func rating(m *mapping.File, raw json.RawMessage) (int64, *sources.Unmapped, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil, false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = strings.TrimSpace(string(raw)) // a number
	}
	s = strings.TrimSpace(s)
	switch w := strings.ToLower(s); {
	case w == "" || w == "offered" || w == "unoffered" || w == "-":
		return 0, nil, false
	case strings.HasPrefix(w, "good"):
		s = "good" // "Good, I'm satisfied" from the placeholder
	case strings.HasPrefix(w, "bad"):
		s = "bad"
	}
	score, u := m.CSAT(s)
	if u != nil {
		return 0, u, true
	}
	return score, nil, true
}

// MapTicket maps the current state of a ticket object (REST API, export,
// or the recommended trigger template). The change is dated by updated_at:
// created when it equals created_at, rated when the ticket carries a
// rating, solved when it is solved or closed, updated otherwise.
func MapTicket(m *mapping.File, t *Ticket) (sources.Result, error) {
	if m == nil {
		m = &mapping.File{}
	}
	if t.ID.Zero() {
		return sources.Result{}, fmt.Errorf("ticket without id")
	}
	if _, ok := contractStatus(t.Status); !ok {
		return sources.Ignore("ticket %s: status %q is not a ticket state (deleted, archived)", t.ID, t.Status), nil
	}
	if t.CreatedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("ticket %s: no created_at", t.ID)
	}
	at := t.UpdatedAt.Time
	if at.IsZero() {
		at = t.CreatedAt.Time
	}
	data, res, err := ticketData(m, t)
	if data == nil || err != nil {
		return res, err
	}
	if ms := t.MetricSet; ms != nil {
		data.SolvedAt = ms.SolvedAt.Ptr()
		if c := ms.ReplyTimeMinutes.Calendar; c != nil {
			data.FirstReplyAt = sources.Ptr(data.CreatedAt.Add(time.Duration(*c * float64(time.Minute))))
		}
	}
	if data.SolvedAt == nil && !t.SolvedAt.IsZero() {
		data.SolvedAt = t.SolvedAt.Ptr()
	}
	typ := "support.ticket.updated"
	switch {
	case data.CSATScore != nil:
		typ = "support.ticket.rated"
		if r := t.SatisfactionRating; r != nil {
			data.CSATAt = sources.Or2(r.UpdatedAt, r.CreatedAt).Ptr()
		}
	case data.Status == "solved" || data.Status == "closed":
		typ = "support.ticket.solved"
	case at.Equal(data.CreatedAt):
		typ = "support.ticket.created"
	}
	res.Events = []sources.Event{{
		// Trigger placeholders date changes to the minute: the state keeps
		// two changes within one minute apart.
		ID:     sources.StateID(System, data.TicketID, typ, at, data),
		Source: Source, Type: typ, Time: at.UTC(), Data: data,
	}}
	return res, nil
}

// ticketData fills the fields every shape shares. A nil data with a nil
// error is an ignored or unmapped result.
func ticketData(m *mapping.File, t *Ticket) (*schemas.Ticket, sources.Result, error) {
	status, ok := contractStatus(t.Status)
	if !ok {
		return nil, sources.Ignore("ticket %s: status %q is not a ticket state (deleted, archived)", t.ID, t.Status), nil
	}
	priority, ok := contractPriority(t.Priority)
	if !ok {
		return nil, sources.Result{}, fmt.Errorf("ticket %s: priority %q is not low, normal, high or urgent", t.ID, *t.Priority)
	}
	if t.OrganizationID.Zero() {
		return nil, sources.Ignore("ticket %s has no organization, so no customer account", t.ID), nil
	}
	data := &schemas.Ticket{
		TicketID:        TicketID(string(t.ID)),
		AccountID:       m.Account(mapping.Zendesk, string(t.OrganizationID)),
		Status:          status,
		Priority:        priority,
		Channel:         sources.NonEmpty(strings.ToLower(strings.TrimSpace(t.Via.Channel))),
		Tags:            []string(t.Tags),
		SecurityRelated: m.SecurityRelated(t.Tags),
		CreatedAt:       t.CreatedAt.UTC(),
	}
	var res sources.Result
	if r := t.SatisfactionRating; r != nil {
		score, u, rated := rating(m, r.Score)
		switch {
		case u != nil:
			res.Unmapped = append(res.Unmapped, *u) // optional field: the event goes without it
		case rated:
			data.CSATScore = &score
		}
	}
	return data, res, nil
}

func event(data *schemas.Ticket, typ string, at time.Time) sources.Event {
	return sources.Event{
		ID:     sources.ChangeID(System, data.TicketID, typ, at),
		Source: Source,
		Type:   typ,
		Time:   at.UTC(),
		Data:   data,
	}
}
