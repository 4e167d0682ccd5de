package kafkaio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas"
)

// MaxMessageBytes is the largest message NewWriter's writers send; the test
// brokers of kafkalocal accept it, so events over the contract's 1 MiB limit
// reach ingest and are rejected there with a reason.
const MaxMessageBytes = 4 << 20

// NewWriter returns a kafka-go Writer for publishing events to the cluster
// at cfg.Brokers: every message acknowledged by all in-sync replicas,
// partitioned by key with murmur2 (the Java client's partitioner, so an
// entity lands on the same partition whichever client published it), large
// batches flushed quickly, topics auto-created where the broker allows it.
// The caller closes it.
func NewWriter(cfg config.Kafka) (*kafka.Writer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka writer: no brokers configured (set IMPACT_KAFKA_BROKERS or --brokers)")
	}
	tr, err := Transport(cfg)
	if err != nil {
		return nil, err
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Transport:    tr,
		Balancer:     kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    10000,
		BatchBytes:   MaxMessageBytes,
		// WriteMessages hands over a whole chunk at once; a short timeout
		// closes each partition's batch as soon as the chunk is queued.
		BatchTimeout:           2 * time.Millisecond,
		WriteTimeout:           30 * time.Second,
		AllowAutoTopicCreation: true,
	}, nil
}

// PublishOptions configures Publish. The zero value publishes in structured
// mode to the default topics.
type PublishOptions struct {
	// Topics routes each event by the family of its type (Topics.ForType).
	Topics config.Topics
	// Binary publishes in CloudEvents binary content mode: attributes as
	// ce_* headers, data as the value. Default: structured mode, the whole
	// event as the value with content-type application/cloudevents+json.
	Binary bool
	// ChunkSize is the number of messages handed to the writer at once;
	// default 5000.
	ChunkSize int
	// MaxLineBytes bounds one input line; default MaxMessageBytes.
	MaxLineBytes int
}

// Stats counts what Publish did.
type Stats struct {
	Lines     int            // input lines read, blank ones included
	Blank     int            // blank lines, skipped
	Published int            // messages acknowledged by the brokers
	NotEvents int            // lines that are not a JSON object with string attributes, published as is
	Bytes     int64          // message values published
	PerTopic  map[string]int // messages published per topic
	Elapsed   time.Duration
}

// String summarises s on one line, topics sorted.
func (s Stats) String() string {
	topics := make([]string, 0, len(s.PerTopic))
	for t := range s.PerTopic {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	fmt.Fprintf(&b, "published %d messages (%d not CloudEvents JSON, %d blank lines skipped) in %v", s.Published, s.NotEvents, s.Blank, s.Elapsed.Round(time.Millisecond))
	if s.Elapsed > 0 {
		fmt.Fprintf(&b, ", %.0f msg/s", float64(s.Published)/s.Elapsed.Seconds())
	}
	for _, t := range topics {
		fmt.Fprintf(&b, "; %s=%d", t, s.PerTopic[t])
	}
	return b.String()
}

// Publish reads JSON Lines of CloudEvents (one structured-mode JSON object a
// line) from r and writes each to the topic of its type with the entity id
// as key (the subject attribute, else the id). Lines that are not such
// objects are published unchanged to the security topic, so ingest rejects
// them to the DLQ with a reason instead of the publisher hiding them.
//
// Messages are written in chunks while the next chunk is read; Publish
// returns once every message is acknowledged, or at the first write error
// (Stats then counts what was acknowledged before it).
func Publish(ctx context.Context, w *kafka.Writer, r io.Reader, opts PublishOptions) (Stats, error) {
	start := time.Now()
	chunkSize := opts.ChunkSize
	if chunkSize <= 0 {
		chunkSize = 5000
	}
	maxLine := opts.MaxLineBytes
	if maxLine <= 0 {
		maxLine = MaxMessageBytes
	}
	stats := Stats{PerTopic: map[string]int{}}

	// One goroutine reads and encodes; this one writes. The channel holds
	// one chunk, so at most three chunks are in memory.
	type chunk struct {
		msgs []kafka.Message
		err  error
	}
	chunks := make(chan chunk, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var read Stats // written by the reader only; read after chunks closes
	go func() {
		defer close(chunks)
		send := func(c chunk) bool {
			select {
			case chunks <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		br := bufio.NewReaderSize(r, 1<<20)
		msgs := make([]kafka.Message, 0, chunkSize)
		for {
			line, err := readLine(br, maxLine)
			if len(line) > 0 || err == nil {
				read.Lines++
				if len(bytes.TrimSpace(line)) == 0 {
					read.Blank++
				} else {
					m, ok := encode(line, opts)
					if !ok {
						read.NotEvents++
					}
					msgs = append(msgs, m)
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				// Publish what came before the bad line, then stop.
				if len(msgs) > 0 && !send(chunk{msgs: msgs}) {
					return
				}
				send(chunk{err: fmt.Errorf("read line %d: %w", read.Lines+1, err)})
				return
			}
			if len(msgs) == chunkSize || (errors.Is(err, io.EOF) && len(msgs) > 0) {
				if !send(chunk{msgs: msgs}) {
					return
				}
				msgs = make([]kafka.Message, 0, chunkSize)
			}
			if err != nil {
				return
			}
		}
	}()

	var werr error
	for c := range chunks {
		if c.err != nil {
			werr = c.err
			break
		}
		if err := w.WriteMessages(ctx, c.msgs...); err != nil {
			var wes kafka.WriteErrors
			if errors.As(err, &wes) {
				for i, e := range wes {
					if e == nil {
						stats.count(c.msgs[i])
					}
				}
				err = fmt.Errorf("%d of %d messages failed, first: %w", wes.Count(), len(c.msgs), firstError(wes))
			}
			werr = fmt.Errorf("publish: %w", err)
			break
		}
		for _, m := range c.msgs {
			stats.count(m)
		}
	}
	cancel()
	for range chunks { // let the reader finish before reading its counts
	}
	stats.Lines, stats.Blank, stats.NotEvents = read.Lines, read.Blank, read.NotEvents
	stats.Elapsed = time.Since(start)
	return stats, werr
}

func (s *Stats) count(m kafka.Message) {
	s.Published++
	s.Bytes += int64(len(m.Value))
	s.PerTopic[m.Topic]++
}

func firstError(wes kafka.WriteErrors) error {
	for _, e := range wes {
		if e != nil {
			return e
		}
	}
	return nil
}

// readLine returns the next line without its line ending. A line longer
// than max is an error: the broker would refuse it anyway.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+2 {
			return nil, fmt.Errorf("line longer than %d bytes", max)
		}
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		return line, err
	}
}

// encode turns one line into a Kafka message, encoded by schemas (the
// owner of the CloudEvents wire formats) and routed here: the topic of its
// type, the entity id as key. ok is false when the line is not a JSON
// object whose type, id and subject (where present) are strings; it is
// then sent as is to the security topic.
func encode(line []byte, opts PublishOptions) (kafka.Message, bool) {
	raw := kafka.Message{
		Topic:   opts.Topics.ForType(""),
		Value:   line,
		Headers: []kafka.Header{{Key: "content-type", Value: []byte(schemas.StructuredContentType)}},
	}
	// Routing needs three attributes only: decoding them into a struct is
	// about twice as fast as a full attribute map.
	var a struct {
		Type    json.RawMessage `json:"type"`
		ID      json.RawMessage `json:"id"`
		Subject json.RawMessage `json:"subject"`
	}
	if err := json.Unmarshal(line, &a); err != nil || len(line) == 0 || line[0] != '{' {
		return raw, false
	}
	typ, ok1 := rawString(a.Type)
	id, ok2 := rawString(a.ID)
	subject, ok3 := rawString(a.Subject)
	if !ok1 || !ok2 || !ok3 {
		return raw, false
	}
	m := kafka.Message{Topic: opts.Topics.ForType(typ), Key: key(subject, id), Value: line, Headers: raw.Headers}
	if !opts.Binary {
		return m, true
	}
	value, headers, ok := schemas.BinaryMode(line)
	if !ok {
		return raw, false
	}
	m.Value, m.Headers = value, make([]kafka.Header, len(headers))
	for i, h := range headers {
		m.Headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return m, true
}

// key is the Kafka key: the entity id, which the contract puts in subject;
// the event id when there is no subject.
func key(subject, id string) []byte {
	switch {
	case subject != "":
		return []byte(subject)
	case id != "":
		return []byte(id)
	}
	return nil
}

// rawString decodes a JSON string; absent or null is "", true.
func rawString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || string(v) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}
