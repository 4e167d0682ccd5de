// Package schemas is event contract v1 of impact: the CloudEvents envelope,
// one JSON Schema per event family (embedded in SchemaFS, the published
// contract), a Go type per entity and the decoder that turns a Kafka
// message into a typed, validated event or a precise rejection.
//
// The contract beyond the design brief's field table:
//   - optional fields may be absent or null (the same thing); required
//     fields must be present and not null;
//   - ids and short labels are at most 256 characters, titles and
//     descriptions 4096, arrays 1000 items; envelope id, source, subject
//     and dataschema at most 1024 characters; required ids are non-empty;
//   - timestamps are RFC 3339 with a zone (Z or ±hh:mm), years 1971-2105
//     (so ClickHouse DateTime holds them), no leap seconds; they are
//     converted to UTC;
//   - the event time (envelope time) must also lie in the accepted window
//     (TimeWindow): not before 2000-01-01 and at most one hour after the
//     decoder's clock by default (rule time_window). JSON Schema cannot say
//     "now", so only the decoder enforces it;
//   - a message is at most 1 MiB (value plus headers, rule size) with at
//     most 100 Kafka headers (rule headers);
//   - counts are integers (1e3 and 4.0 are integers); money, hours and
//     seconds are numbers; every number is bounded (0..1e15 unless the
//     brief says otherwise), so none overflows;
//   - booleans are JSON true/false (stored as UInt8);
//   - duplicate member names: the last one wins, as in encoding/json;
//   - member names are case-sensitive; unknown members are ignored here and
//     kept in the raw payload.
//
// The decoder validates in Go code (the hot path); TestSchemaEquivalence,
// TestSchemaEquivalenceMutations and FuzzDecode prove it gives the same
// verdict as the JSON Schemas evaluated by
// github.com/santhosh-tekuri/jsonschema/v6.
package schemas

import (
	"encoding/json"
	"fmt"
	"time"
)

// MaxEventSize is the largest Kafka message (value plus headers) the decoder
// accepts: 1 MiB. Larger messages are rejected before any parsing.
const MaxEventSize = 1 << 20

// SpecVersion is the only CloudEvents version accepted.
const SpecVersion = "1.0"

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Event is a decoded, validated CloudEvent of contract v1.
type Event struct {
	SpecVersion     string
	ID              string // with Source, the event's identity
	Source          string
	Type            string // e.g. security.finding.opened
	Subject         string // the entity id by convention; may be empty
	DataSchema      string
	DataContentType string
	Time            time.Time // UTC
	// Data is the event's data object as received. It aliases the decoded
	// message value; do not modify the value while the Event is in use.
	Data json.RawMessage
	// Raw is the whole event as a structured-mode JSON object: the value
	// itself in structured mode, rebuilt from headers and data in binary
	// mode. It is what the raw table stores.
	Raw json.RawMessage
	// Payload is the typed data: *Finding, *GateEvaluation, ... .
	Payload Payload
}

// Payload is the typed data of an event: the entity columns of one row of
// its typed ClickHouse table.
type Payload interface {
	// Table is the typed ClickHouse table, e.g. finding_events.
	Table() string
	// EntityID is the id of the entity the event carries the state of.
	EntityID() string
}

// Rejection says why a message is not a valid event: the field path
// ("data.severity", "time", "data.affected_account_ids[2]"; empty for the
// message as a whole) and the rule it broke (required, type, enum, format,
// minimum, maximum, minLength, maxLength, maxItems, size, headers, utf8,
// json, unknown_type, specversion, dataschema, datacontenttype,
// content_type, time_window). Field and Detail are bounded (256 and 1024
// bytes): a detail quotes at most a 64-byte prefix of an offending value.
type Rejection struct {
	Field  string
	Rule   string
	Detail string
}

func (r *Rejection) Error() string {
	if r.Field == "" {
		return fmt.Sprintf("rejected: %s: %s", r.Rule, r.Detail)
	}
	return fmt.Sprintf("rejected: %s: %s: %s", r.Field, r.Rule, r.Detail)
}

// Types lists every event type of contract v1.
func Types() []string {
	var out []string
	for _, f := range families {
		out = append(out, f.types...)
	}
	return out
}
