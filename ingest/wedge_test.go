package ingest_test

// Issue 13, "Ingest must never wedge": one test per way a producer could
// stop ingestion on c775d7d. Each of these failed there.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/rss"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
)

// setTopicConfig sets one config of topic on the broker.
func setTopicConfig(t testing.TB, kc config.Kafka, topic, name, value string) {
	t.Helper()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := admin.Client().IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: topic,
			Configs:      []kafka.IncrementalAlterConfigsRequestConfig{{Name: name, Value: value, ConfigOperation: kafka.ConfigOperationSet}},
		}},
	})
	if err == nil {
		for _, r := range resp.Resources {
			err = r.Error
		}
	}
	if err != nil {
		t.Fatalf("set %s=%s on %s: %v", name, value, topic, err)
	}
	// The broker applies the change asynchronously: wait until it is read back.
	waitUntil(t.(*testing.T), 30*time.Second, "topic config "+name+"="+value, func() bool {
		m, err := admin.MaxMessageBytes(ctx, []string{topic})
		return name != "max.message.bytes" || (err == nil && strconv.Itoa(m[topic]) == value)
	})
}

// structured returns a structured-mode message of topic with the event
// attrs (time, type, id) and data object given.
func structured(topic, key, id, typ, tm, data string) kafka.Message {
	return kafka.Message{Topic: topic, Key: []byte(key),
		Value: []byte(`{"specversion":"1.0","id":"` + id + `","source":"urn:test:wedge","type":"` + typ +
			`","time":"` + tm + `","data":` + data + `}`),
		Headers: []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
}

// findingData is a valid finding with extra members (raw JSON) appended.
func findingData(id, extra string) string {
	return `{"finding_id":"` + id + `","scanner":"snyk","category":"sca","severity":"high","service_id":"S-1",` +
		`"status":"open","detected_at":"2025-03-01T00:00:00Z"` + extra + `}`
}

// noise returns n bytes of incompressible base64 text.
func noise(n int) string {
	b := make([]byte, n*3/4+3)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)[:n]
}

// runDrain runs an in-process ingester in drain mode and fails the test if
// it does not finish within timeout.
func runDrain(t *testing.T, cfg ingest.Config, timeout time.Duration) {
	t.Helper()
	cfg.Drain = true
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := ingest.Run(ctx, cfg); err != nil {
		t.Fatalf("drain did not complete within %v (ingest wedged?): %v", timeout, err)
	}
}

// runReady runs an in-process ingester until ctx ends and waits until it
// is ready; it returns the base URL of its health server and its Run result.
func runReady(t *testing.T, ctx context.Context, cfg ingest.Config) (string, <-chan error) {
	t.Helper()
	in, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	base := "http://" + in.Addr()
	waitUntil(t, time.Minute, "ready", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == http.StatusOK })
	return base, done
}

// TestRejectsAlwaysDeliverable (item 1): rejects far larger than the DLQ
// topic's max.message.bytes (100,000 here, not the default), all with one
// key so they land in one DLQ partition and one producer batch, with
// reasons quoting a 900 kB value, a 200 kB key and 90 headers: every one is
// delivered, cut to fit and marked, and the partition is committed.
func TestRejectsAlwaysDeliverable(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	const limit = 100_000
	setTopicConfig(t, kc, kc.Topics.DLQTopic(), "max.message.bytes", strconv.Itoa(limit))

	sec := kc.Topics.ForType("security.")
	var bad []kafka.Message
	for i := range 6 {
		// Invalid severity: the reason quotes the value.
		bad = append(bad, structured(sec, "one-key", "big-"+strconv.Itoa(i), "security.finding.opened", "2025-03-01T00:00:00Z",
			strings.Replace(findingData("F-big", ""), `"high"`, `"`+noise(900_000)+`"`, 1)))
	}
	bigKey := structured(sec, noise(200_000), "bigkey", "security.finding.opened", "yesterday", findingData("F-k", ""))
	bad = append(bad, bigKey)
	many := structured(sec, "one-key", "hdrs", "no.such.type", "2025-03-01T00:00:00Z", `{"pad":"`+noise(50_000)+`"}`)
	for i := range 90 {
		many.Headers = append(many.Headers, kafka.Header{Key: "x-trace-" + strconv.Itoa(i), Value: []byte(noise(2000))})
	}
	bad = append(bad, many)
	valid := eventgen.Generate(200, kc.Topics, eventgen.Options{Seed: 7, IDPrefix: "deliverable"})
	produceWith(t, kc, &kafka.Hash{}, append(valid[:100:100], append(bad, valid[100:]...)...))

	cfg := testConfig(t, kc, cc, groupName(t))
	runDrain(t, cfg, 2*time.Minute)

	conn := openCH(t, cc)
	if got := queryUint(t, conn, "SELECT count() FROM ingest_rejects FINAL"); got != uint64(len(bad)) {
		t.Errorf("ingest_rejects holds %d rows, want %d", got, len(bad))
	}
	if got := queryUint(t, conn, "SELECT count() FROM ingest_rejects FINAL WHERE position(detail, 'not in the dead-letter topic') > 0"); got != 0 {
		t.Errorf("%d rejects took the last resort; all should fit the DLQ", got)
	}
	if got := queryUint(t, conn, "SELECT count() FROM events_raw FINAL"); got != uint64(len(valid)) {
		t.Errorf("events_raw holds %d events, want %d", got, len(valid))
	}
	dlq := readDLQ(t, kc, len(bad))
	truncated := 0
	for _, m := range dlq {
		size := len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			size += len(h.Key) + len(h.Value)
		}
		if size > limit {
			t.Errorf("DLQ record of %d bytes over the topic's max.message.bytes %d", size, limit)
		}
		reason, _ := header(m, ingest.HeaderRejectReason)
		if reason == "" || len(reason) > 1024 {
			t.Errorf("DLQ reason of %d bytes, want 1..1024", len(reason))
		}
		if n, ok := header(m, ingest.HeaderTruncated); ok {
			truncated++
			if full, _ := strconv.Atoi(n); full <= len(m.Value) {
				t.Errorf("value-truncated header %s but %d bytes kept", n, len(m.Value))
			}
		}
		if rule, _ := header(m, ingest.HeaderRejectRule); rule == "" {
			t.Errorf("DLQ record without a rule")
		}
		if off, _ := header(m, ingest.HeaderSourceOffset); off == "" {
			t.Errorf("DLQ record without its source offset")
		}
	}
	if truncated < 6 {
		t.Errorf("%d DLQ values marked truncated, want at least the 6 oversized ones", truncated)
	}
	for _, m := range dlq {
		if id, _ := header(m, ingest.HeaderSourceOffset); id != "" && len(m.Key) >= 100_000 {
			t.Errorf("a 200 kB key was kept whole in a %d-byte record", limit)
		}
		if n, ok := header(m, ingest.HeaderHeadersTruncated); ok && !strings.HasSuffix(n, "/91") {
			t.Errorf("headers-truncated %q, want kept/91", n)
		}
	}
	checkCommitted(t, kc, cfg.GroupID)
}

// TestDLQLastResort (item 1): when the broker refuses a dead-letter record
// anyway (here its limit drops below what the ingester read at start), the
// reject is kept in ingest_rejects with a note and counted, never retried
// for ever, and the partition is committed.
func TestDLQLastResort(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	cfg := testConfig(t, kc, cc, groupName(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base, done := runReady(t, ctx, cfg)

	setTopicConfig(t, kc, kc.Topics.DLQTopic(), "max.message.bytes", "20000")
	sec := kc.Topics.ForType("security.")
	var bad []kafka.Message
	for i := range 3 {
		bad = append(bad, structured(sec, "k", "lr-"+strconv.Itoa(i), "security.finding.opened", "not a time",
			findingData("F-lr", `,"pad":"`+noise(300_000)+`"`)))
	}
	valid := eventgen.Generate(50, kc.Topics, eventgen.Options{Seed: 9, IDPrefix: "lastresort"})
	produce(t, kc, append(bad, valid...))

	waitUntil(t, 2*time.Minute, "every partition committed", func() bool {
		select {
		case err := <-done:
			t.Fatalf("ingester exited: %v", err)
		default:
		}
		return caughtUp(t, kc, cfg.GroupID)
	})
	_, body := httpGet(t, base+"/metrics")
	if got := sumMetric(body, "impact_ingest_dlq_undeliverable_total"); got != float64(len(bad)) {
		t.Errorf("impact_ingest_dlq_undeliverable_total = %v, want %d", got, len(bad))
	}
	cancel()
	<-done
	conn := openCH(t, cc)
	if got := queryUint(t, conn, "SELECT count() FROM ingest_rejects FINAL WHERE position(detail, 'not in the dead-letter topic') > 0 AND length(payload_prefix) <= 1024"); got != uint64(len(bad)) {
		t.Errorf("%d rejects noted as not in the DLQ, want %d", got, len(bad))
	}
	if got := queryUint(t, conn, "SELECT count() FROM events_raw FINAL"); got != uint64(len(valid)) {
		t.Errorf("events_raw holds %d events, want %d", got, len(valid))
	}
}

// TestEventTimeWindow (item 2): event times before 2000, centuries ahead or
// hours in the future are rejected (rule time_window) instead of freezing
// an entity's latest state or spanning more partitions than one INSERT may
// touch; valid events spread over every year of the window, in one batch,
// are stored.
func TestEventTimeWindow(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	sec := kc.Topics.ForType("security.")
	var msgs []kafka.Message
	outside := []string{"1971-01-01T00:00:00Z", "1999-12-31T23:00:00Z", "2105-12-31T00:00:00Z",
		time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)}
	for i, tm := range outside {
		msgs = append(msgs, structured(sec, "F-w", "out-"+strconv.Itoa(i), "security.finding.updated", tm, findingData("F-w", "")))
	}
	valid := 0
	for y := 2000; y <= time.Now().Year(); y++ {
		msgs = append(msgs, structured(sec, "F-y", "in-"+strconv.Itoa(y), "security.finding.updated",
			strconv.Itoa(y)+"-01-01T00:00:00Z", findingData("F-y"+strconv.Itoa(y), "")))
		valid++
	}
	produce(t, kc, msgs)
	runDrain(t, testConfig(t, kc, cc, groupName(t)), 2*time.Minute)

	conn := openCH(t, cc)
	if got := queryUint(t, conn, "SELECT count() FROM ingest_rejects FINAL WHERE rule = 'time_window' AND field = 'time'"); got != uint64(len(outside)) {
		t.Errorf("%d time_window rejects, want %d", got, len(outside))
	}
	if got := queryUint(t, conn, "SELECT count() FROM finding_events FINAL"); got != uint64(valid) {
		t.Errorf("finding_events holds %d events, want %d", got, valid)
	}
	if got := queryUint(t, conn, "SELECT uniqExact(toYear(event_time)) FROM events_raw"); got != uint64(valid) {
		t.Errorf("events_raw spans %d years, want %d", got, valid)
	}
}

// TestReadyzFailsWhenStalled (item 5): a partition whose rows cannot be
// stored (the rejects table is gone while ClickHouse answers pings) has lag
// measured from the committed offset, and /readyz fails once nothing has
// been committed for the stall timeout; it recovers when rows store again.
func TestReadyzFailsWhenStalled(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	cfg := testConfig(t, kc, cc, groupName(t))
	cfg.StallTimeout = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base, done := runReady(t, ctx, cfg)

	conn := openCH(t, cc)
	if err := conn.Exec(ctx, "RENAME TABLE ingest_rejects TO ingest_rejects_away"); err != nil {
		t.Fatal(err)
	}
	sec := kc.Topics.ForType("security.")
	msgs := []kafka.Message{structured(sec, "F-s", "stall-1", "security.finding.opened", "not a time", findingData("F-s", ""))}
	msgs = append(msgs, eventgen.Generate(30, kc.Topics, eventgen.Options{Seed: 3, IDPrefix: "stall"})...)
	produce(t, kc, msgs)

	var body string
	waitUntil(t, time.Minute, "/readyz 503 with a stalled partition", func() bool {
		code, b := httpGet(t, base+"/readyz")
		body = b
		return code == http.StatusServiceUnavailable && strings.Contains(b, "stalled")
	})
	t.Logf("/readyz: %s", strings.TrimSpace(body))
	_, metrics := httpGet(t, base+"/metrics")
	if lag := sumMetric(metrics, "impact_ingest_consumer_lag"); lag < 1 {
		t.Errorf("impact_ingest_consumer_lag = %v while a reject is not stored, want >= 1", lag)
	}
	if s := sumMetric(metrics, "impact_ingest_stalled"); s != 1 {
		t.Errorf("impact_ingest_stalled = %v, want 1", s)
	}

	// The same is reported to ClickHouse for the pipeline-health alert.
	waitUntil(t, time.Minute, "a stalled partition in ingest_progress", func() bool {
		return queryUint(t, conn, "SELECT count() FROM ingest_progress FINAL WHERE lag > 0 AND reported_at >= progress_at + 2") > 0
	})

	if err := conn.Exec(ctx, "RENAME TABLE ingest_rejects_away TO ingest_rejects"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "/readyz 200 again", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == http.StatusOK })
	waitUntil(t, time.Minute, "caught up", func() bool { return caughtUp(t, kc, cfg.GroupID) })
	_, metrics = httpGet(t, base+"/metrics")
	if lag := sumMetric(metrics, "impact_ingest_consumer_lag"); lag != 0 {
		t.Errorf("impact_ingest_consumer_lag = %v after catching up, want 0", lag)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestFetchMemoryBounded (item 3): 950 kB events on six partitions while
// ClickHouse is down. Fetching counts against the memory budget, so the
// child's peak RSS stays under the Go memory limit of its budget plus a
// fixed overhead, however much is waiting in Kafka; after the restart every
// event is stored once.
func TestFetchMemoryBounded(t *testing.T) {
	t.Parallel()
	srv := testenv.ClickHouseServer(t)
	kc := testenv.Kafka(t)
	cc := srv.Config(testenv.DatabaseName(t))
	bin := buildImpact(t)
	env := childEnv(kc, cc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Migrations first (the child runs with --no-migrate); the child must
	// see ClickHouse once at start (it waits for it before joining).
	if err := migrate(ctx, cc); err != nil {
		t.Fatal(err)
	}
	const budgetMiB = 16
	group := groupName(t)
	p := startIngest(t, bin, env, "--group", group, "--memory-budget-mib", strconv.Itoa(budgetMiB))
	waitUntil(t, time.Minute, "child ready", func() bool { code, _ := httpGet(t, "http://"+p.addr()+"/readyz"); return code == http.StatusOK })
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	const perPartition, size = 60, 950_000
	var msgs []kafka.Message
	for _, topic := range []string{kc.Topics.ForType("security."), kc.Topics.ForType("support.")} {
		for p := range testenv.KafkaPartitions {
			for i := range perPartition {
				id := topic[:3] + "-" + strconv.Itoa(p) + "-" + strconv.Itoa(i)
				m := structured(topic, "", id, "security.finding.opened", "2025-03-01T00:00:00Z",
					findingData("F-"+id, `,"pad":"`+noise(size)+`"`))
				m.Partition = p
				msgs = append(msgs, m)
			}
		}
	}
	produceWith(t, kc, kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }), msgs)
	t.Logf("produced %d events of ~%d kB on %d partitions", len(msgs), size/1000, 2*testenv.KafkaPartitions)

	waitUntil(t, time.Minute, "first fetches", func() bool { return p.metric("impact_ingest_events_consumed_total") > 0 })
	// Let the readers fill whatever they would hold while inserts fail.
	time.Sleep(8 * time.Second)
	consumed := p.metric("impact_ingest_events_consumed_total")
	peak := peakRSS(t, p)
	bound := ingest.MemoryLimit(budgetMiB<<20) + rssOverhead
	t.Logf("ClickHouse down: consumed %v of %d, peak RSS %d MiB (bound %d MiB)", consumed, len(msgs), peak>>20, bound>>20)
	if peak > bound {
		t.Errorf("peak RSS %d MiB over the bound %d MiB (memory limit of a %d MiB budget + %d MiB overhead)",
			peak>>20, bound>>20, budgetMiB, rssOverhead>>20)
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 4*time.Minute, "caught up after the restart", func() bool { return caughtUp(t, kc, group) })
	if peak := peakRSS(t, p); peak > bound {
		t.Errorf("peak RSS %d MiB while catching up, over the bound %d MiB", peak>>20, bound>>20)
	}
	conn := openCH(t, cc)
	if got := queryUint(t, conn, "SELECT count() FROM finding_events FINAL"); got != uint64(len(msgs)) {
		t.Errorf("finding_events holds %d events, want %d", got, len(msgs))
	}
	stopChild(t, p)
}

// rssOverhead is what an ingester's RSS may exceed the Go memory limit of
// its budget by: runtime, binary, connection buffers, and memory the Go
// runtime has not yet returned to the OS. Stated in docs/ingest.md.
const rssOverhead = 64 << 20

// peakRSS is the child's peak resident set (VmHWM).
func peakRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	n, err := rss.PeakOf(strconv.Itoa(p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("peak RSS of the child: %v", err)
	}
	return n
}

// migrate applies the ClickHouse migrations to cc's database.
func migrate(ctx context.Context, cc config.ClickHouse) error {
	if err := chconn.EnsureDatabase(ctx, cc); err != nil {
		return err
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = migrations.Apply(ctx, conn, migrations.Options{Database: cc.DB()})
	return err
}

// produceWith writes msgs uncompressed in batches of at most 1 MiB (so
// near-1 MiB messages fit a broker's default limit), partitioned by bal.
func produceWith(t testing.TB, kc config.Kafka, bal kafka.Balancer, msgs []kafka.Message) {
	t.Helper()
	tr, err := kafkaio.Transport(kc)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(kc.Brokers...),
		Balancer:     bal,
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchBytes:   1 << 20,
		Transport:    tr,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}
