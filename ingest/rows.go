package ingest

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/schemas"
)

// The raw and rejects tables (schemas/migrations).
var (
	rawTable      = schemas.RawTable
	rawColumns    = schemas.RawColumns
	rejectsTable  = schemas.RejectsTable
	rejectColumns = schemas.RejectColumns
)

// Header names added to dead-letter messages.
const (
	HeaderSourceTopic     = "impact-source-topic"
	HeaderSourcePartition = "impact-source-partition"
	HeaderSourceOffset    = "impact-source-offset"
	HeaderRejectField     = "impact-reject-field"
	HeaderRejectRule      = "impact-reject-rule"
	HeaderRejectReason    = "impact-reject-reason"
	// HeaderTruncated carries the original size of a value cut to
	// maxDLQValue, because brokers refuse messages over ~1 MiB.
	HeaderTruncated = "impact-value-truncated"
)

const (
	maxDLQValue   = 900_000
	payloadPrefix = 1024
	// rowOverhead approximates the memory of a row beyond the message bytes
	// (boxed values, slice slots) for the memory budget.
	rowOverhead = 512
)

// builder turns one message into table rows. Each partition reader owns
// one, so its scratch space is reused without locking.
type builder struct {
	hdrs    []schemas.Header
	scratch []any
	rows    [2]row
}

// charge is the budget bytes a message is charged before it is decoded:
// its bytes, the decoded rows (about as much again) and the copy
// clickhouse-go makes into column buffers while inserting. Measured
// against the heap in TestChargeCoversMemory and the benchmark's RSS.
func charge(m *kafka.Message) int64 {
	return 3*int64(len(m.Value)+len(m.Key)) + 3*rowOverhead
}

// build decodes m and returns its rows (raw + typed, or one reject) with
// the charged bytes split between them. reason is the reject rule, "" when
// the message is valid.
func (bl *builder) build(m *kafka.Message, charged int64, now time.Time) (rows []row, reason string) {
	bl.hdrs = bl.hdrs[:0]
	for _, h := range m.Headers {
		bl.hdrs = append(bl.hdrs, schemas.Header{Key: h.Key, Value: h.Value})
	}
	ev, err := schemas.Decode(m.Value, bl.hdrs)
	if err != nil {
		return bl.reject(m, ev, err, charged, now)
	}
	// The payload column keeps the event as received (structured mode
	// JSON). Raw aliases the message value, which kafka-go allocates afresh
	// for every message and nobody modifies: sharing its bytes is safe and
	// saves a copy per event.
	payload := ""
	if len(ev.Raw) > 0 {
		payload = unsafe.String(&ev.Raw[0], len(ev.Raw))
	}
	part, off := int32(m.Partition), m.Offset
	s := bl.scratch[:0]
	s = append(s, ev.Source, ev.ID, ev.Type, ev.Time, ev.Subject, ev.Payload.EntityID(),
		ev.DataSchema, payload, m.Topic, part, off, now)
	nraw := len(s)
	s = append(s, ev.Source, ev.ID, ev.Type, ev.Time)
	s = ev.Payload.AppendValues(s)
	s = append(s, m.Topic, part, off, now)
	bl.scratch = s

	rawBytes := charged / 2
	p := ev.Payload
	bl.rows[0] = row{table: rawTable, cols: rawColumns, vals: s[:nraw], bytes: rawBytes}
	bl.rows[1] = row{table: p.Table(), payload: p, vals: s[nraw:], bytes: charged - rawBytes}
	return bl.rows[:2], ""
}

// reject builds the ingest_rejects row and the dead-letter message of m.
func (bl *builder) reject(m *kafka.Message, ev *schemas.Event, err error, charged int64, now time.Time) ([]row, string) {
	field, rule, detail := "", "invalid", err.Error()
	var rej *schemas.Rejection
	if errors.As(err, &rej) {
		field, rule, detail = rej.Field, rej.Rule, rej.Detail
	}
	if rule == "" {
		rule = "invalid"
	}
	src, id, typ := identity(m, ev)

	prefix := m.Value
	if len(prefix) > payloadPrefix {
		prefix = prefix[:payloadPrefix]
		for len(prefix) > 0 && !utf8.Valid(prefix) {
			prefix = prefix[:len(prefix)-1] // do not cut a rune in half
		}
	}

	hdrs := make([]kafka.Header, 0, len(m.Headers)+7)
	hdrs = append(hdrs, m.Headers...)
	hdrs = append(hdrs,
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		kafka.Header{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		kafka.Header{Key: HeaderRejectField, Value: []byte(field)},
		kafka.Header{Key: HeaderRejectRule, Value: []byte(rule)},
		kafka.Header{Key: HeaderRejectReason, Value: []byte(detail)},
	)
	value := m.Value
	if len(value) > maxDLQValue {
		hdrs = append(hdrs, kafka.Header{Key: HeaderTruncated, Value: strconv.AppendInt(nil, int64(len(value)), 10)})
		value = value[:maxDLQValue]
	}
	dlq := &kafka.Message{Key: m.Key, Value: value, Headers: hdrs}

	s := bl.scratch[:0]
	s = append(s, m.Topic, int32(m.Partition), m.Offset, now, field, rule, detail, src, id, typ, string(prefix))
	bl.scratch = s
	bl.rows[0] = row{table: rejectsTable, cols: rejectColumns, vals: s, bytes: charged, dlq: dlq}
	return bl.rows[:1], rule
}

// identity finds the event's source, id and type for a rejected message as
// far as they can be read: from the decoded event, the ce_ headers of binary
// mode, or the JSON of structured mode.
func identity(m *kafka.Message, ev *schemas.Event) (src, id, typ string) {
	if ev != nil {
		src, id, typ = ev.Source, ev.ID, ev.Type
	}
	for _, h := range m.Headers {
		switch h.Key {
		case "ce_source":
			src = or(src, string(h.Value))
		case "ce_id":
			id = or(id, string(h.Value))
		case "ce_type":
			typ = or(typ, string(h.Value))
		}
	}
	if (src == "" || id == "" || typ == "") && len(m.Value) <= 1<<20 {
		var e struct {
			Source any `json:"source"`
			ID     any `json:"id"`
			Type   any `json:"type"`
		}
		if json.Unmarshal(m.Value, &e) == nil {
			src = or(src, str(e.Source))
			id = or(id, str(e.ID))
			typ = or(typ, str(e.Type))
		}
	}
	return src, id, typ
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func typedColumnsOf(p schemas.Payload) []string { return schemas.TypedColumns(p) }
