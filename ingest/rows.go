package ingest

import (
	"errors"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/schemas"
)

// The raw and rejects tables (schemas/migrations).
var (
	rawTable      = schemas.RawTable
	rawColumns    = schemas.RawColumns
	rejectsTable  = schemas.RejectsTable
	rejectColumns = schemas.RejectColumns
)

const (
	payloadPrefix = 1024
	// rowOverhead approximates the memory of a row beyond the message bytes
	// (boxed values, slice slots) for the memory budget.
	rowOverhead = 512
)

// builder turns one message into table rows. Each partition reader owns
// one, so its scratch space is reused without locking.
type builder struct {
	dec schemas.Decoder
	// dlqLimit is the largest dead-letter record (see dlqMessage); zero
	// means Kafka's default max.message.bytes.
	dlqLimit int
	hdrs     []schemas.Header
	scratch  []any
	rows     [2]row
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
	ev, err := bl.dec.Decode(m.Value, bl.hdrs)
	if err != nil {
		return bl.reject(m, err, charged, now)
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
func (bl *builder) reject(m *kafka.Message, err error, charged int64, now time.Time) ([]row, string) {
	field, rule, detail := "", "invalid", err.Error()
	var rej *schemas.Rejection
	if errors.As(err, &rej) {
		field, rule, detail = rej.Field, rej.Rule, rej.Detail
	}
	if rule == "" {
		rule = "invalid"
	}
	src, id, typ := schemas.Identity(m.Value, bl.hdrs)

	prefix := m.Value
	if len(prefix) > payloadPrefix {
		prefix = prefix[:payloadPrefix]
		// Do not cut a rune in half (only the cut: invalid bytes before it
		// are kept as received).
		if j := lastRuneStart(prefix); !utf8.FullRune(prefix[j:]) {
			prefix = prefix[:j]
		}
	}
	limit := bl.dlqLimit
	if limit <= 0 {
		limit = dlqRecordLimit(kafkaio.DefaultMaxMessageBytes)
	}
	dlq := dlqMessage(m, field, rule, detail, limit)

	s := bl.scratch[:0]
	s = append(s, m.Topic, int32(m.Partition), m.Offset, now, field, rule, detail, src, id, typ, string(prefix))
	bl.scratch = s
	bl.rows[0] = row{table: rejectsTable, cols: rejectColumns, vals: s, bytes: charged, dlq: &dlq}
	return bl.rows[:1], rule
}

// lastRuneStart is the index of the start of b's last (possibly cut) rune.
func lastRuneStart(b []byte) int {
	j := len(b) - 1
	for j > 0 && j > len(b)-utf8.UTFMax && !utf8.RuneStart(b[j]) {
		j--
	}
	return max(j, 0)
}

func typedColumnsOf(p schemas.Payload) []string { return schemas.TypedColumns(p) }
