package ingest_test

import (
	"bytes"
	"context"
	"log/slog"

	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas"
)

func TestMain(m *testing.M) {
	ingest.LimitDecompression() // before any test goroutine uses kafka-go
	testenv.Main(m)
}

// invalid is a message that must be rejected, with the rule expected.
type invalid struct {
	msg  kafka.Message
	rule string
}

// invalidMessages returns one message per kind of rejection the contract
// names: not JSON, missing field, wrong type, unknown type, bad timestamp,
// over 1 MiB.
func invalidMessages(topics config.Topics, tag string) []invalid {
	ce := []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}
	env := func(id, typ, tm, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"` + id + `","source":"urn:test:bad","type":"` + typ +
			`","time":"` + tm + `","subject":"X","data":` + data + `}`)
	}
	finding := func(drop string) string {
		fields := []string{`"finding_id":"F-bad"`, `"scanner":"snyk"`, `"category":"sca"`, `"severity":"high"`,
			`"service_id":"S-1"`, `"status":"open"`, `"detected_at":"2025-03-01T00:00:00Z"`}
		var keep []string
		for _, f := range fields {
			if !strings.HasPrefix(f, `"`+drop+`"`) {
				keep = append(keep, f)
			}
		}
		return "{" + strings.Join(keep, ",") + "}"
	}
	big := env("big-"+tag, "security.finding.opened", "2025-03-01T00:00:00Z",
		`{"pad":"`+strings.Repeat("x", 1<<20+100)+`"}`)
	sec := topics.ForType("security.")
	return []invalid{
		{kafka.Message{Topic: sec, Key: []byte("F-bad"), Value: []byte("this is not json {"), Headers: ce}, "json"},
		{kafka.Message{Topic: sec, Key: []byte("F-bad"), Value: env("miss-"+tag, "security.finding.opened", "2025-03-01T00:00:00Z", finding("severity")), Headers: ce}, "required"},
		{kafka.Message{Topic: topics.ForType("crm.x"), Key: []byte("O-bad"), Value: env("type-"+tag, "crm.opportunity.created", "2025-03-01T00:00:00Z", `{"opportunity_id":5}`), Headers: ce}, ""},
		{kafka.Message{Topic: sec, Key: []byte("Z-bad"), Value: env("unk-"+tag, "security.unknown.thing", "2025-03-01T00:00:00Z", `{}`), Headers: ce}, "unknown_type"},
		{kafka.Message{Topic: sec, Key: []byte("F-bad"), Value: env("time-"+tag, "security.finding.opened", "yesterday", finding("")), Headers: ce}, ""},
		{kafka.Message{Topic: sec, Key: []byte("F-bad"), Value: big, Headers: ce}, "size"},
	}
}

// produce writes msgs (each with its Topic set) and waits for acks=all.
func produce(t testing.TB, kc config.Kafka, msgs []kafka.Message) {
	t.Helper()
	tr, err := kafkaio.Transport(kc)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(kc.Brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    5000,
		BatchBytes:   8 << 20,
		BatchTimeout: 5 * time.Millisecond,
		Compression:  kafka.Lz4,
		Transport:    tr,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), 20000)
		if err := w.WriteMessages(ctx, msgs[:n]...); err != nil {
			t.Fatalf("produce: %v", err)
		}
		msgs = msgs[n:]
	}
}

// dataset is what a test produced and what ClickHouse must hold after.
type dataset struct {
	msgs     []kafka.Message // in produce order, duplicates included
	valid    int             // distinct valid events
	perTable map[string]int  // distinct valid events per typed table
	invalid  []invalid
}

// makeDataset returns n valid events, dups re-sent copies of some of them,
// and every kind of invalid message, shuffled deterministically.
func makeDataset(t testing.TB, topics config.Topics, n, dups int, tag string) dataset {
	t.Helper()
	valid := eventgen.Generate(n, topics, eventgen.Options{Seed: 42, IDPrefix: tag})
	d := dataset{valid: n, perTable: map[string]int{}, invalid: invalidMessages(topics, tag)}
	for _, m := range valid {
		ev, err := schemas.Decode(m.Value, []schemas.Header{{Key: "content-type", Value: m.Headers[0].Value}})
		if err != nil {
			t.Fatalf("generated event invalid: %v", err)
		}
		d.perTable[ev.Payload.Table()]++
	}
	d.msgs = append(d.msgs, valid...)
	for i := range dups {
		d.msgs = append(d.msgs, valid[(i*7919)%n])
	}
	// Spread the invalid ones through the stream.
	for i, inv := range d.invalid {
		at := (i + 1) * len(d.msgs) / (len(d.invalid) + 1)
		d.msgs = append(d.msgs[:at], append([]kafka.Message{inv.msg}, d.msgs[at:]...)...)
	}
	return d
}

func openCH(t testing.TB, cc config.ClickHouse) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func queryUint(t testing.TB, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkStored verifies that every valid event is in ClickHouse exactly once
// as seen with FINAL, in events_raw and in its typed table, and that every
// invalid message is in ingest_rejects.
func checkStored(t testing.TB, conn driver.Conn, d dataset) {
	t.Helper()
	// All tables are constants of this test, not input.
	if got := queryUint(t, conn, "SELECT count() FROM events_raw FINAL"); got != uint64(d.valid) {
		t.Errorf("events_raw FINAL count = %d, want %d", got, d.valid)
	}
	if got := queryUint(t, conn, "SELECT uniqExact(event_source, event_id) FROM events_raw"); got != uint64(d.valid) {
		t.Errorf("events_raw distinct identities = %d, want %d", got, d.valid)
	}
	for _, tb := range schemas.Tables() {
		got := queryUint(t, conn, "SELECT count() FROM "+tb+" FINAL")
		if got != uint64(d.perTable[tb]) {
			t.Errorf("%s FINAL count = %d, want %d", tb, got, d.perTable[tb])
		}
		ids := queryUint(t, conn, "SELECT uniqExact(event_source, event_id) FROM "+tb)
		if ids != uint64(d.perTable[tb]) {
			t.Errorf("%s distinct identities = %d, want %d", tb, ids, d.perTable[tb])
		}
	}
	if got := queryUint(t, conn, "SELECT count() FROM ingest_rejects FINAL"); got != uint64(len(d.invalid)) {
		t.Errorf("ingest_rejects FINAL count = %d, want %d", got, len(d.invalid))
	}
}

// checkCommitted verifies the group's committed offsets equal the end
// offsets of every source partition.
func checkCommitted(t testing.TB, kc config.Kafka, group string) {
	t.Helper()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := kc.Topics.Sources()
	ends, err := admin.EndOffsets(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := admin.CommittedOffsets(ctx, group, topics)
	if err != nil {
		t.Fatal(err)
	}
	for topic, ps := range ends {
		for p, end := range ps {
			c := committed[topic][p]
			if end == 0 && c == -1 {
				continue
			}
			if c != end {
				t.Errorf("%s/%d: committed %d, end offset %d", topic, p, c, end)
			}
		}
	}
}

// readDLQ reads n messages from every partition of the DLQ topic.
func readDLQ(t testing.TB, kc config.Kafka, n int) []kafka.Message {
	t.Helper()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dlq := kc.Topics.DLQTopic()
	ends, err := admin.EndOffsets(ctx, []string{dlq})
	if err != nil {
		t.Fatal(err)
	}
	dialer, err := kafkaio.Dialer(kc)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p, end := range ends[dlq] {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, Topic: dlq, Partition: p, Dialer: dialer, MaxBytes: 16 << 20})
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read DLQ %d: %v", p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	if len(out) != n {
		t.Errorf("DLQ holds %d messages, want %d", len(out), n)
	}
	return out
}

func header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// checkDLQ verifies every invalid message is in the DLQ with its original
// key and value (cut for the oversized one) and the reject headers, and
// that its source position matches ingest_rejects.
func checkDLQ(t testing.TB, kc config.Kafka, conn driver.Conn, d dataset) {
	t.Helper()
	got := readDLQ(t, kc, len(d.invalid))
	for _, inv := range d.invalid {
		var found *kafka.Message
		for i := range got {
			v := got[i].Value
			if bytes.Equal(v, inv.msg.Value) || (len(inv.msg.Value) > len(v) && len(v) > 0 && bytes.HasPrefix(inv.msg.Value, v)) {
				found = &got[i]
				break
			}
		}
		if found == nil {
			t.Errorf("invalid message (rule %q) %.60q not in DLQ", inv.rule, inv.msg.Value)
			continue
		}
		if !bytes.Equal(found.Key, inv.msg.Key) {
			t.Errorf("DLQ key %q, want %q", found.Key, inv.msg.Key)
		}
		for _, h := range []string{ingest.HeaderSourceTopic, ingest.HeaderSourcePartition, ingest.HeaderSourceOffset,
			ingest.HeaderRejectField, ingest.HeaderRejectRule, ingest.HeaderRejectReason} {
			if _, ok := header(*found, h); !ok {
				t.Errorf("DLQ message lacks header %s", h)
			}
		}
		rule, _ := header(*found, ingest.HeaderRejectRule)
		if inv.rule != "" && rule != inv.rule {
			t.Errorf("DLQ rule %q, want %q for %.60q", rule, inv.rule, inv.msg.Value)
		}
		if reason, _ := header(*found, ingest.HeaderRejectReason); reason == "" {
			t.Errorf("DLQ reason empty for %.60q", inv.msg.Value)
		}
		if src, _ := header(*found, ingest.HeaderSourceTopic); src != inv.msg.Topic {
			t.Errorf("DLQ source topic %q, want %q", src, inv.msg.Topic)
		}
		if len(inv.msg.Value) > 1<<20 {
			if size, ok := header(*found, ingest.HeaderTruncated); !ok || size != strconv.Itoa(len(inv.msg.Value)) {
				t.Errorf("oversized DLQ message: truncated header %q, want %d", size, len(inv.msg.Value))
			}
		}
		// The same position is in ingest_rejects with the same rule.
		part, _ := header(*found, ingest.HeaderSourcePartition)
		off, _ := header(*found, ingest.HeaderSourceOffset)
		var dbRule, detail string
		err := conn.QueryRow(context.Background(),
			"SELECT rule, detail FROM ingest_rejects FINAL WHERE kafka_topic = ? AND kafka_partition = ? AND kafka_offset = ?",
			inv.msg.Topic, mustAtoi(t, part), mustAtoi64(t, off)).Scan(&dbRule, &detail)
		if err != nil {
			t.Errorf("ingest_rejects row for %s/%s@%s: %v", inv.msg.Topic, part, off, err)
			continue
		}
		if dbRule != rule || detail == "" {
			t.Errorf("ingest_rejects rule %q detail %q, DLQ rule %q", dbRule, detail, rule)
		}
	}
}

func mustAtoi(t testing.TB, s string) int32 {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("header %q: %v", s, err)
	}
	return int32(n)
}

func mustAtoi64(t testing.TB, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("header %q: %v", s, err)
	}
	return n
}

// testConfig returns an ingest.Config for tests: quick flushes and small
// backoff so tests are fast.
func testConfig(t testing.TB, kc config.Kafka, cc config.ClickHouse, group string) ingest.Config {
	return ingest.Config{
		Kafka:          kc,
		ClickHouse:     cc,
		GroupID:        group,
		FlushAge:       200 * time.Millisecond,
		BackoffMax:     time.Second,
		CommitInterval: 200 * time.Millisecond,
		Listen:         "127.0.0.1:0",
		Logger:         testLogger(t),
	}
}

func groupName(t testing.TB) string { return "ingest" + testenv.TopicSuffix(t) }

// testLogger returns a logger whose output is shown if the test fails.
func testLogger(t testing.TB) *slog.Logger {
	var buf syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ingester log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
