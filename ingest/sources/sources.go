// Package sources holds what every source mapper shares: the contract event
// a mapper produces (Event), the result of mapping one payload or export
// record (Result: events, a reason for ignoring it, picklist values the
// mapping file does not cover) and deterministic event ids (EventID,
// ChangeID).
//
// One package per source system lives below it (github, gitlab, pagerduty,
// zendesk, hubspot, ...). Their mappers are plain functions from a vendor
// payload or export record to Results, used by both the webhook gateway
// (ingest/gateway, push) and the importers (pull), configured by one mapping
// file (ingest/sources/mapping).
package sources

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/secimpact/impact/schemas"
)

// Event is one contract v1 event produced by a mapper.
type Event struct {
	// ID and Source are the event's identity (CloudEvents id and source):
	// the same change mapped twice, by the gateway or an importer, gives the
	// same pair. Build ID with ChangeID or EventID.
	ID     string
	Source string
	Type   string    // e.g. security.finding.fixed
	Time   time.Time // when the change happened, as the source says
	Data   schemas.Payload
}

// Key is the Kafka key of the event: the id of the entity it carries.
func (e Event) Key() string { return e.Data.EntityID() }

// cloudEvent is the structured-mode JSON form of an Event.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	Data            schemas.Payload `json:"data"`
}

// MarshalJSON encodes e as a structured-mode CloudEvent of contract v1: the
// entity id as subject, the contract's dataschema, the time in UTC.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("event %s %s: no data", e.Type, e.ID)
	}
	return json.Marshal(cloudEvent{
		SpecVersion:     schemas.SpecVersion,
		ID:              e.ID,
		Source:          e.Source,
		Type:            e.Type,
		Time:            e.Time.UTC().Format(time.RFC3339Nano),
		Subject:         e.Data.EntityID(),
		DataContentType: "application/json",
		DataSchema:      schemas.DataSchemaFor(e.Type),
		Data:            e.Data,
	})
}

// Result is what mapping one payload (a webhook delivery, an export record)
// gives. Exactly one of these holds:
//   - Events is not empty: the contract events it carries (Unmapped may
//     list values of optional fields that were left out);
//   - Unmapped is not empty: picklist values the mapping file does not
//     cover kept a required field from being filled, so nothing was mapped;
//     the caller counts them and reports a suggested mapping line;
//   - Ignored is set: the payload carries nothing for the contract (an
//     event kind the product does not use, a service not configured as
//     security, ...), and says why.
type Result struct {
	Events   []Event
	Unmapped []Unmapped
	Ignored  string
}

// Ignore returns a Result ignoring the payload for the given reason.
func Ignore(format string, args ...any) Result {
	return Result{Ignored: fmt.Sprintf(format, args...)}
}

// Mapped returns a Result carrying events.
func Mapped(events ...Event) Result { return Result{Events: events} }

// Outcome names the result for metrics and logs: "mapped", "unmapped" or
// "ignored".
func (r Result) Outcome() string {
	switch {
	case len(r.Events) > 0:
		return "mapped"
	case len(r.Unmapped) > 0:
		return "unmapped"
	}
	return "ignored"
}

// Add appends the events and unmapped values of o to r; r stays ignored
// only when both were.
func (r *Result) Add(o Result) {
	r.Events = append(r.Events, o.Events...)
	r.Unmapped = append(r.Unmapped, o.Unmapped...)
	if len(r.Events) > 0 || len(r.Unmapped) > 0 {
		r.Ignored = ""
	} else if r.Ignored == "" {
		r.Ignored = o.Ignored
	}
}

// Unmapped is a value found in a source that the mapping file has no entry
// for, in the picklist at Key (a dotted mapping-file path such as
// crm.segments). Mappers never guess such values: they report them.
type Unmapped struct {
	Key     string   // mapping-file key of the picklist, e.g. crm.loss_reasons
	Value   string   // the source's value, as sent ("" when the source sent none)
	Allowed []string // the contract values the picklist may map to
}

// Suggestion is the mapping-file line that would map the value, with the
// allowed targets in place of a guess, e.g.
//
//	crm.loss_reasons: {"Too expensive": price|product|competitor|security|timing|other}
func (u Unmapped) Suggestion() string {
	v := u.Value
	if v == "" {
		v = "*" // the picklist's default entry covers missing values
	}
	return fmt.Sprintf("%s: {%q: %s}", u.Key, v, strings.Join(u.Allowed, "|"))
}

func (u Unmapped) String() string {
	return fmt.Sprintf("%s has no entry for %q", u.Key, u.Value)
}

// UnmappedCounts counts unmapped values by picklist and value, for the
// summaries of the importers and the gateway's log.
type UnmappedCounts map[string]*UnmappedCount

// UnmappedCount is how often one unmapped value was seen.
type UnmappedCount struct {
	Unmapped
	Count int
}

// Add counts us.
func (c UnmappedCounts) Add(us ...Unmapped) {
	for _, u := range us {
		k := u.Key + "\x00" + u.Value
		if n := c[k]; n != nil {
			n.Count++
			continue
		}
		c[k] = &UnmappedCount{Unmapped: u, Count: 1}
	}
}

// Sorted returns the counts, most frequent first, then by key and value.
func (c UnmappedCounts) Sorted() []UnmappedCount {
	out := make([]UnmappedCount, 0, len(c))
	for _, n := range c {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Value < b.Value
	})
	return out
}

// EventID returns a deterministic event id for a change of a source
// system: system, ":", then 32 hex digits of a SHA-256 over the parts. The
// parts are length-prefixed, so ("ab","c") and ("a","bc") differ. Same
// input, same id: a redelivered webhook and an import of the same change
// are one event.
func EventID(system string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([]string{system}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return system + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// ChangeID is the id of the change that put entity into the state an event
// of type typ carries at time at (per the source's own timestamp). It is
// the id mappers use when the source dates the change itself; when it does
// not (the event time is only the arrival time), they use EventID with the
// source's delivery or record id instead, so a redelivery keeps its id.
func ChangeID(system, entity, typ string, at time.Time) string {
	return EventID(system, entity, typ, at.UTC().Format(time.RFC3339Nano))
}

// StateID is ChangeID for sources that date changes coarsely (to the
// minute, say): the event's data is part of the id, so two different
// states at the same timestamp stay two events, while the same state sent
// twice (a retry, an import of the same record) is one.
func StateID(system, entity, typ string, at time.Time, data any) string {
	b, err := json.Marshal(data)
	if err != nil { // cannot happen for contract payloads; fall back to the time alone
		return ChangeID(system, entity, typ, at)
	}
	sum := sha256.Sum256(b)
	return EventID(system, entity, typ, at.UTC().Format(time.RFC3339Nano), hex.EncodeToString(sum[:]))
}
