package ingest

import (
	"context"
	"errors"
	"math/bits"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
)

// Dead-letter records are always deliverable:
//   - every header ingest adds is bounded (schemas bounds the reject field
//     and detail; topic names are at most 249 bytes);
//   - each record is built to fit the DLQ topic's max.message.bytes, read
//     from the broker at start (DescribeConfigs; Kafka's default 1048588
//     when it cannot be read): the original headers are kept while they fit
//     in a quarter of it, the key while it fits in another quarter, and the
//     value is cut to what is left (at most 900 kB). Headers impact-headers-truncated,
//     impact-key-truncated and impact-value-truncated say what was cut;
//   - producer batches are limited to the same size, uncompressed (so the
//     size the broker checks is the size computed here);
//   - last resort: a record the broker still refuses as too large or
//     invalid is not retried. Its ingest_rejects row (which keeps the first
//     1 KiB of the payload) gets the note dlqNote in its detail, and
//     impact_ingest_dlq_undeliverable_total counts it. Transient errors
//     (broker down, leader moving) are retried with backoff, like
//     ClickHouse outages, without committing past the reject.

// Header names added to dead-letter messages.
const (
	HeaderSourceTopic     = "impact-source-topic"
	HeaderSourcePartition = "impact-source-partition"
	HeaderSourceOffset    = "impact-source-offset"
	HeaderRejectField     = "impact-reject-field"
	HeaderRejectRule      = "impact-reject-rule"
	HeaderRejectReason    = "impact-reject-reason"
	// HeaderTruncated carries the original size of a value cut to fit the
	// DLQ topic's max.message.bytes.
	HeaderTruncated = "impact-value-truncated"
	// HeaderKeyTruncated carries the original size of a cut key.
	HeaderKeyTruncated = "impact-key-truncated"
	// HeaderHeadersTruncated says how many of the original headers were
	// kept: "kept/total".
	HeaderHeadersTruncated = "impact-headers-truncated"
)

// dlqNote is appended to the detail of a reject that could not be written
// to the dead-letter topic (the last resort).
const dlqNote = " [not in the dead-letter topic: "

// maxDLQValue caps a dead-letter value whatever the topic allows: the
// first 900 kB of a rejected value are enough to diagnose it.
const maxDLQValue = 900_000

// dlqMargin is kept free below max.message.bytes for the record batch
// header (61 bytes) and the difference between kafka-go's size estimate and
// the wire size.
const dlqMargin = 1024

// dlqRecordLimit is the largest kafka-go message size (totalSize) a DLQ
// record may have for a topic whose max.message.bytes is maxMessageBytes.
func dlqRecordLimit(maxMessageBytes int) int {
	return max(maxMessageBytes-dlqMargin, 4096)
}

// newDLQWriter returns the producer of dead-letter records, batches sized
// below the topic's limit.
func newDLQWriter(addr []string, topic string, transport kafka.RoundTripper, recordLimit int) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(addr...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchBytes:   int64(recordLimit),
		BatchTimeout: time.Millisecond,
		MaxAttempts:  3,
		Transport:    transport,
	}
}

// maxMessageBytes reads the largest max.message.bytes of topics from the
// broker, falling back (with a warning) to Kafka's default when it cannot
// be read. For the DLQ topic it bounds each record; for the source topics
// it is the largest record batch one fetch may return.
func (in *Ingester) maxMessageBytes(ctx context.Context, topics []string) int {
	admin, err := kafkaio.NewAdmin(in.cfg.Kafka)
	if err == nil {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		var m map[string]int
		if m, err = admin.MaxMessageBytes(ctx, topics); err == nil {
			n := 0
			for _, v := range m {
				n = max(n, v)
			}
			return n
		}
	}
	in.log.Warn("cannot read max.message.bytes; assuming Kafka's default",
		"topics", topics, "default", kafkaio.DefaultMaxMessageBytes, "err", err)
	return kafkaio.DefaultMaxMessageBytes
}

// dlqMessage builds the dead-letter record of m, rejected for field, rule
// and detail, no larger than limit (kafka-go's totalSize).
func dlqMessage(m *kafka.Message, field, rule, detail string, limit int) kafka.Message {
	own := []kafka.Header{
		{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
		{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		{Key: HeaderRejectField, Value: []byte(field)},
		{Key: HeaderRejectRule, Value: []byte(rule)},
		{Key: HeaderRejectReason, Value: []byte(detail)},
	}
	// room is what the key, the value and the original headers may use:
	// the limit less the fixed part, the own headers and the three
	// truncation headers (name + up to 20 digits each).
	room := limit - messageOverhead - headersSize(own) - 3*(len(HeaderHeadersTruncated)+24)

	hdrs := make([]kafka.Header, 0, min(len(m.Headers), 100)+len(own)+3)
	kept, used := 0, 0
	for _, h := range m.Headers {
		n := varintLen(len(h.Key)) + len(h.Key) + varintLen(len(h.Value)) + len(h.Value)
		if kept >= 100 || used+n > room/4 {
			break
		}
		hdrs = append(hdrs, h)
		kept++
		used += n
	}
	room -= used
	hdrs = append(hdrs, own...)
	if kept < len(m.Headers) {
		hdrs = append(hdrs, kafka.Header{Key: HeaderHeadersTruncated,
			Value: []byte(strconv.Itoa(kept) + "/" + strconv.Itoa(len(m.Headers)))})
	}
	key := m.Key
	if len(key) > room/4 {
		hdrs = append(hdrs, kafka.Header{Key: HeaderKeyTruncated, Value: strconv.AppendInt(nil, int64(len(key)), 10)})
		key = key[:room/4]
	}
	room = min(room-len(key), maxDLQValue)
	value := m.Value
	if len(value) > room {
		hdrs = append(hdrs, kafka.Header{Key: HeaderTruncated, Value: strconv.AppendInt(nil, int64(len(value)), 10)})
		value = value[:max(room, 0)]
	}
	return kafka.Message{Key: key, Value: value, Headers: hdrs}
}

// messageOverhead is kafka-go's fixed part of a message's size estimate:
// size fields, attributes, timestamp, header count.
const messageOverhead = 4 + 1 + 1 + 4 + 4 + 8 + 5

// messageSize is kafka-go's estimate of a message's size (Message.totalSize,
// unexported there), which it compares with Writer.BatchBytes.
func messageSize(m *kafka.Message) int {
	return 4 + 1 + 1 + 4 + len(m.Key) + 4 + len(m.Value) + 8 + headersSize(m.Headers)
}

func headersSize(hs []kafka.Header) int {
	n := varintLen(len(hs))
	for _, h := range hs {
		n += varintLen(len(h.Key)) + len(h.Key) + varintLen(len(h.Value)) + len(h.Value)
	}
	return n
}

// varintLen is the size of n as a zig-zag varint.
func varintLen(n int) int {
	u := uint64(n) << 1
	return max(1, (bits.Len64(u)+6)/7)
}

// produceDLQ writes the dead-letter records of b. Records the broker
// refuses for good (too large, invalid) take the last resort; the others
// are retried with backoff until written or ctx ends.
func (w *writer) produceDLQ(ctx context.Context, t *table, b *batch) error {
	bo := backoff{min: w.min, max: w.max}
	pending := make([]int, len(b.dlq))
	for i := range pending {
		pending[i] = i
	}
	msgs := make([]kafka.Message, 0, len(b.dlq))
	for len(pending) > 0 {
		msgs = msgs[:0]
		for _, i := range pending {
			msgs = append(msgs, b.dlq[i])
		}
		err := w.dlq.WriteMessages(ctx, msgs...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var retry []int
		var werrs kafka.WriteErrors
		var tooLarge kafka.MessageTooLargeError
		switch {
		case errors.As(err, &werrs) && len(werrs) == len(pending):
			for k, e := range werrs {
				switch {
				case e == nil:
				case permanentDLQError(e):
					w.lastResort(t, b, pending[k], e)
				default:
					retry = append(retry, pending[k])
				}
			}
		case errors.As(err, &tooLarge):
			// kafka-go checks sizes before sending anything: find the
			// offender, give it the last resort, send the rest.
			for k := range msgs {
				if messageSize(&msgs[k]) > int(w.dlq.BatchBytes) {
					w.lastResort(t, b, pending[k], err)
				} else {
					retry = append(retry, pending[k])
				}
			}
		default:
			retry = pending
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		d := bo.next()
		w.m.retries.WithLabelValues("dlq").Inc()
		w.log.Warn("produce to dead-letter topic failed; retrying", "topic", w.dlq.Topic, "messages", len(pending), "err", err, "retry_in", d)
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	b.dlqDone = true
	return nil
}

// permanentDLQError reports a broker answer that retrying cannot change.
func permanentDLQError(err error) bool {
	return errors.Is(err, kafka.MessageSizeTooLarge) || errors.Is(err, kafka.InvalidRecord) ||
		errors.Is(err, kafka.InvalidTimestamp)
}

// lastResort records that dead-letter record i of b cannot be written: its
// ingest_rejects row (same index: every row of a rejects batch has one
// record) notes it in the detail, and the metric counts it.
func (w *writer) lastResort(t *table, b *batch, i int, err error) {
	if d, ok := b.chunks.String(i, "detail"); ok {
		msg := err.Error()
		if len(msg) > 200 {
			msg = msg[:200]
		}
		b.chunks.SetString(i, "detail", d+dlqNote+msg+"]")
	}
	w.m.dlqUndeliverable.Inc()
	m := &b.dlq[i]
	src, _ := header(m, HeaderSourceTopic)
	part, _ := header(m, HeaderSourcePartition)
	off, _ := header(m, HeaderSourceOffset)
	w.log.Error("dead-letter record refused by the broker; kept in ingest_rejects only",
		"table", t.name, "source_topic", src, "source_partition", part, "source_offset", off, "size", messageSize(m), "err", err)
}

func header(m *kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
