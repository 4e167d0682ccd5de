package schemas

import (
	"time"
	"unicode/utf8"
	"unsafe"
)

// Rows is the row builder of ingest, the direct loader and transform/bulk:
// the rows of a set of messages, one Block per table a message is stored
// in (events_raw, its typed table, or ingest_rejects), filled straight by
// the decoder. Decoding a typical event into Rows allocates nothing once
// the blocks have grown: the decoder reads strings as slices of the
// message and the blocks copy their bytes into one buffer per column (no
// pointer per value for the garbage collector to scan, and the message is
// free once AppendMessage returns); enum values and types are the
// contract's constants, times are Unix seconds.
//
// The zero value is ready to use. Not safe for concurrent use.
type Rows struct {
	// TopicOf, when set, gives the kafka_topic column from the event type
	// instead of Lineage.Topic: for loaders that bypass Kafka.
	TopicOf func(eventType string) string

	blocks []*Block
	st     state
}

// Lineage is where a message came from: the lineage columns of its rows.
type Lineage struct {
	Topic      string
	Partition  int32
	Offset     int64
	IngestedAt time.Time // truncated to the second by the column type
}

// Blocks returns one block per table, always in the same order and of the
// same length: events_raw, the typed tables, ingest_rejects. A block is
// created on first use.
func (r *Rows) Blocks() []*Block {
	r.init()
	return r.blocks
}

// Block returns the block of t.
func (r *Rows) Block(t *Table) *Block {
	r.init()
	return r.blocks[t.index]
}

func (r *Rows) init() {
	if r.blocks == nil {
		r.blocks = make([]*Block, len(tables))
		for i, t := range tables {
			r.blocks[i] = NewBlock(t)
		}
	}
}

// Reset empties every block.
func (r *Rows) Reset() {
	for _, b := range r.blocks {
		b.Reset()
	}
}

// The tables of Rows.Blocks other than the typed ones.
var (
	EventsRaw     = rawTable     // events_raw
	IngestRejects = rejectsTable // ingest_rejects
)

// AppendMessage decodes and validates one Kafka message as Decode does
// and appends its rows: a row to events_raw and one to its typed table,
// whose Table it returns; or, for an invalid message, a row to
// ingest_rejects and the Rejection. The rows hold copies: value and the
// headers may be reused once it returns.
func (dc *Decoder) AppendMessage(r *Rows, value []byte, headers []Header, lin Lineage) (*Table, *Rejection) {
	r.init()
	s := &r.st
	s.alias = true
	fam, rej := dc.decode(s, value, headers)
	if rej != nil {
		r.appendReject(value, headers, lin, rej)
		return nil, rej
	}
	a := &s.attrs
	typ := fam.typeConst(a[attrType].s)
	topic := lin.Topic
	if r.TopicOf != nil {
		topic = r.TopicOf(typ)
	}
	at := lin.IngestedAt.Unix()
	evTime := s.evTime.Unix()
	vals := s.vals[:len(fam.fields)]

	raw := r.blocks[rawTable.index]
	c := raw.cols
	c[0].addStr(a[attrSource].s)
	c[1].addStr(a[attrID].s)
	c[2].addStr(typ)
	c[3].i64 = append(c[3].i64, evTime)
	c[rawSubject].addStr(a[attrSubject].s)
	c[rawEntityID].addStr(vals[0].s)
	c[rawDataSchema].addStr(a[attrDataSchema].s)
	// The payload keeps the event as received, structured-mode JSON: the
	// value itself, or rebuilt from the headers in binary mode.
	payload := value
	if s.binary {
		payload = structuredFromBinary(value, headers)
	}
	c[rawPayload].addStr(bytesString(payload))
	appendLineage(c[rawLineage:], topic, lin, at)
	raw.rows++

	b := r.blocks[fam.tbl.index]
	c = b.cols
	c[0].addStr(a[attrSource].s)
	c[1].addStr(a[attrID].s)
	c[2].addStr(typ)
	c[3].i64 = append(c[3].i64, evTime)
	c = c[len(envelopeDefs):]
	for i := range vals {
		appendValue(&c[i], fam.tbl.cols[len(envelopeDefs)+i].typ, &vals[i], s.strs)
	}
	c = c[len(vals):]
	if fam.derivesSLA {
		c[0].addStr("") // sla_policy_version: no due date is derived here
		c = c[1:]
	}
	appendLineage(c, topic, lin, at)
	b.rows++
	return fam.tbl, nil
}

func appendLineage(c []column, topic string, lin Lineage, at int64) {
	c[0].addStr(topic)
	c[1].i32 = append(c[1].i32, lin.Partition)
	c[2].i64 = append(c[2].i64, lin.Offset)
	c[3].i64 = append(c[3].i64, at)
}

// appendValue appends one decoded field to its column.
func appendValue(c *column, typ colType, v *value, items []string) {
	switch typ {
	case tString, tNullString:
		c.addStr(v.s)
	case tDateTime, tNullDateTime:
		sec := int64(0)
		if v.set {
			sec = v.t.Unix()
		}
		c.i64 = append(c.i64, sec)
	case tInt64, tNullInt64:
		c.i64 = append(c.i64, v.i)
	case tFloat64, tNullFloat64:
		c.f64 = append(c.f64, v.f)
	case tUInt8, tNullUInt8:
		c.u8 = append(c.u8, uint8(v.i))
	case tStrings:
		if v.set {
			for _, it := range items[v.lo:v.hi] {
				c.addStr(it)
			}
		}
		c.ends = append(c.ends, int32(len(c.end)))
	}
	if typ.nullable() {
		c.null = append(c.null, !v.set)
	}
}

// bytesString is b as a string without a copy: b must not change while
// the string is in use.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// AppendReject appends the ingest_rejects row of a message rejected
// without being decoded (ingest skips a record batch that decompresses
// past its limit: its messages were never read), with lineage lin and
// the rejection rej, and no identity or payload.
func (r *Rows) AppendReject(lin Lineage, rej *Rejection) {
	r.init()
	r.appendReject(nil, nil, lin, rej)
}

// payloadPrefix is how much of a rejected message ingest_rejects keeps.
const payloadPrefix = 1024

// appendReject appends the ingest_rejects row of a rejected message:
// lineage, the rejection, the message's identity as far as it can be read
// and the first 1 KiB of its value. Every string is a copy: a rejected
// message may be large, and its row must not keep it in memory.
func (r *Rows) appendReject(value []byte, headers []Header, lin Lineage, rej *Rejection) {
	rule := rej.Rule
	if rule == "" {
		rule = "invalid"
	}
	src, id, typ := identity(value, headers)
	prefix := value
	if len(prefix) > payloadPrefix {
		prefix = prefix[:payloadPrefix]
		// Do not cut a rune in half (only the cut: invalid bytes before it
		// are kept as received).
		if j := lastRuneStart(prefix); !utf8.FullRune(prefix[j:]) {
			prefix = prefix[:j]
		}
	}
	b := r.blocks[rejectsTable.index]
	c := b.cols
	c[0].addStr(lin.Topic)
	c[1].i32 = append(c[1].i32, lin.Partition)
	c[2].i64 = append(c[2].i64, lin.Offset)
	c[3].i64 = append(c[3].i64, lin.IngestedAt.Unix())
	for k, v := range []string{rej.Field, rule, rej.Detail, src, id, typ, string(prefix)} {
		c[4+k].addStr(v)
	}
	b.rows++
}

// lastRuneStart is the index of the start of b's last (possibly cut) rune.
func lastRuneStart(b []byte) int {
	j := len(b) - 1
	for j > 0 && j > len(b)-utf8.UTFMax && !utf8.RuneStart(b[j]) {
		j--
	}
	return max(j, 0)
}
