package ingest

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/schemas"
)

// rowOverhead approximates the memory of a message's rows beyond its
// bytes (column slots of two rows) for the memory budget.
const rowOverhead = 512

// charge is the budget bytes a message is charged before it is decoded:
// its rows (the blocks copy its strings, so about its bytes, plus the
// column slots of its two rows). The message itself is held by its
// fetched batch, charged to the fetch share until processed; inserting
// adds nothing per row (the rows are encoded from the blocks into one
// reused buffer of about 1 MiB, chconn.Inserter). Measured against the
// heap by TestChargeCoversMemory (eventgen's mix: 985 B held per message,
// 1,232 charged) and against the benchmark's RSS.
func charge(m *kafka.Message) int64 {
	return int64(len(m.Value)+len(m.Key)) + 3*rowOverhead/2
}

// staged is the rows of consecutive messages of one partition, built by
// its reader outside the sink's lock and then added to the sink's batches
// at once (sink.add).
type staged struct {
	rows schemas.Rows
	// Per table (index of rows.Blocks): the budget bytes charged to its
	// rows, and the offset of the first message with a row in it (-1).
	bytes []int64
	first []int64
	next  int64 // offset after the last message
	msgs  int
	// dlq is the dead-letter record of each ingest_rejects row, in order.
	dlq []kafka.Message
}

func newStaged() *staged {
	st := &staged{}
	n := len(st.rows.Blocks())
	st.bytes, st.first = make([]int64, n), make([]int64, n)
	st.reset()
	return st
}

// reset empties st after its rows were added to the sink.
func (st *staged) reset() {
	st.rows.Reset()
	clear(st.bytes)
	for i := range st.first {
		st.first[i] = -1
	}
	st.next, st.msgs = -1, 0
	clear(st.dlq)
	st.dlq = st.dlq[:0]
}

func (st *staged) charge(t *schemas.Table, offset, bytes int64) {
	i := t.Index()
	st.bytes[i] += bytes
	if st.first[i] < 0 {
		st.first[i] = offset
	}
}

// builder turns messages into staged rows. Each partition reader owns one,
// so its buffers are reused without locking.
type builder struct {
	dec schemas.Decoder
	// dlqLimit is the largest dead-letter record (see dlqMessage); zero
	// means Kafka's default max.message.bytes.
	dlqLimit int
	hdrs     []schemas.Header
}

// build decodes m into st: a row in events_raw and one in its typed table
// (the charged bytes split between them), or a row in ingest_rejects and a
// dead-letter record. reason is the reject rule, "" when m is valid.
func (bl *builder) build(st *staged, m *kafka.Message, charged int64, now time.Time) (reason string) {
	bl.hdrs = bl.hdrs[:0]
	for _, h := range m.Headers {
		bl.hdrs = append(bl.hdrs, schemas.Header{Key: h.Key, Value: h.Value})
	}
	// The rows copy what they keep of m: once decoded, m is garbage (but
	// for a reject's dead-letter record).
	lin := schemas.Lineage{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, IngestedAt: now}
	t, rej := bl.dec.AppendMessage(&st.rows, m.Value, bl.hdrs, lin)
	st.next = m.Offset + 1
	st.msgs++
	if rej != nil {
		limit := bl.dlqLimit
		if limit <= 0 {
			limit = dlqRecordLimit(kafkaio.DefaultMaxMessageBytes)
		}
		st.dlq = append(st.dlq, dlqMessage(m, rej.Field, rej.Rule, rej.Detail, limit))
		st.charge(schemas.IngestRejects, m.Offset, charged)
		return rej.Rule
	}
	raw := charged / 2
	st.charge(schemas.EventsRaw, m.Offset, raw)
	st.charge(t, m.Offset, charged-raw)
	return ""
}

// rejectBatch stages the reject of a record batch skipped because it
// decompresses past sk.limit: an ingest_rejects row at its first offset
// (rule RuleBatchTooLarge, the range and the limit in the detail) and its
// dead-letter record (headers only: the batch was never read).
func (bl *builder) rejectBatch(st *staged, topic string, partition int, sk *skippedBatch, charged int64, now time.Time) {
	detail := fmt.Sprintf("record batch at offsets %d..%d of %s/%d decompresses to more than %d bytes; skipped",
		sk.first, sk.last, topic, partition, sk.limit)
	lin := schemas.Lineage{Topic: topic, Partition: int32(partition), Offset: sk.first, IngestedAt: now}
	st.rows.AppendReject(lin, &schemas.Rejection{Rule: RuleBatchTooLarge, Detail: detail})
	limit := bl.dlqLimit
	if limit <= 0 {
		limit = dlqRecordLimit(kafkaio.DefaultMaxMessageBytes)
	}
	m := kafka.Message{Topic: topic, Partition: partition, Offset: sk.first}
	st.dlq = append(st.dlq, dlqMessage(&m, "", RuleBatchTooLarge, detail, limit))
	st.charge(schemas.IngestRejects, sk.first, charged)
	st.next = sk.last + 1
	st.msgs++
}
