package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

// TestZipBombSkipped: two gzip record batches of four 64 MiB values of
// zeros each (256 MiB decompressed, a few hundred kB on the wire, within
// the topic's max.message.bytes) between valid events of one partition,
// one valid event between the two. The ingester, a child process with a
// 16 MiB budget, stops decompressing each at the limit, skips exactly
// that batch (the event between them is stored: a search for the first
// batch's end by doubling steps would run into the second and take the
// event between into the skipped range), records each offset range in
// ingest_rejects and the dead-letter topic (rule batch_too_large), stores
// the events before, between and after them, commits past them, and its
// peak RSS stays under the memory bound.
func TestZipBombSkipped(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	bin := buildImpact(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := migrate(ctx, cc); err != nil {
		t.Fatal(err)
	}
	topic := kc.Topics.ForType("security.")
	toP0 := kafka.BalancerFunc(func(kafka.Message, ...int) int { return 0 })
	event := func(id string) kafka.Message {
		return structured(topic, "", id, "security.finding.opened", "2025-03-01T00:00:00Z", findingData("F-"+id, ""))
	}
	produceWith(t, kc, toP0, []kafka.Message{event("before-1"), event("before-2")})

	const records, size = 4, 64 << 20
	zeros := make([]byte, size) // one buffer for the four values
	bomb := make([]kafka.Message, records)
	for i := range bomb {
		bomb[i] = kafka.Message{Topic: topic, Key: []byte("bomb"), Value: zeros}
	}
	tr, err := kafkaio.Transport(kc)
	if err != nil {
		t.Fatal(err)
	}
	// One attempt with time to spare: the broker decompresses the 256 MiB
	// batch to validate it, which on a loaded machine outlasted the
	// default 10 s write timeout, and the writer's retry appended the bomb
	// again (a record batch at offsets 7..14, not 7..10). The offsets
	// below assume each bomb is written once.
	w := &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Balancer: toP0, RequiredAcks: kafka.RequireAll,
		Compression: kafka.Gzip, BatchSize: records, BatchBytes: 1 << 30, BatchTimeout: time.Second, Transport: tr,
		MaxAttempts: 1, WriteTimeout: 2 * time.Minute, ReadTimeout: 2 * time.Minute}
	defer w.Close()
	if err := w.WriteMessages(ctx, bomb...); err != nil {
		t.Fatalf("produce the bomb: %v", err)
	}
	produceWith(t, kc, toP0, []kafka.Message{event("between")})
	if err := w.WriteMessages(ctx, bomb...); err != nil {
		t.Fatalf("produce the second bomb: %v", err)
	}
	produceWith(t, kc, toP0, []kafka.Message{event("after-1"), event("after-2"), event("after-3")})
	const valid = 6
	// Offsets: 0-1 before, 2-5 the first bomb, 6 between, 7-10 the second.
	bombs := [][2]int64{{2, 2 + records - 1}, {2 + records + 1, 2 + 2*records}}

	const budgetMiB = 16
	group := groupName(t)
	start := time.Now()
	p := startIngest(t, bin, childEnv(kc, cc), "--group", group, "--memory-budget-mib", strconv.Itoa(budgetMiB))
	waitUntil(t, time.Minute, "child ready", func() bool { code, _ := httpGet(t, "http://"+p.addr()+"/readyz"); return code == http.StatusOK })
	waitUntil(t, 2*time.Minute, "committed past the bomb", func() bool { return caughtUp(t, kc, group) })
	t.Logf("caught up %v after start", time.Since(start).Round(time.Millisecond))
	for _, line := range strings.Split(p.logs(), "\n") {
		if strings.Contains(line, "skipped and recorded") {
			t.Log(line)
		}
	}

	peak := peakRSS(t, p)
	bound := ingest.MemoryLimit(budgetMiB<<20) + rssOverhead
	t.Logf("peak RSS %d MiB (bound %d MiB)", peak>>20, bound>>20)
	if peak > bound {
		t.Errorf("peak RSS %d MiB over the bound %d MiB", peak>>20, bound>>20)
	}
	if got := p.metric("impact_ingest_rejected_total"); got != float64(len(bombs)) {
		t.Errorf("impact_ingest_rejected_total = %v, want %d", got, len(bombs))
	}

	conn := openCH(t, cc)
	if got := queryUint(t, conn, "SELECT count() FROM finding_events FINAL"); got != valid {
		t.Errorf("finding_events holds %d events, want %d (before, between and after the bombs)", got, valid)
	}
	rows, err := conn.Query(ctx, "SELECT kafka_offset, rule, detail FROM ingest_rejects FINAL WHERE kafka_topic = ? AND kafka_partition = 0 ORDER BY kafka_offset", topic)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var rule, detail string
		var offset int64
		if err := rows.Scan(&offset, &rule, &detail); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s", offset, rule, detail))
	}
	rows.Close()
	if len(got) != len(bombs) {
		t.Fatalf("ingest_rejects rows %q, want one per bomb %v", got, bombs)
	}
	for i, b := range bombs {
		head, rng := fmt.Sprintf("%d %s ", b[0], ingest.RuleBatchTooLarge), fmt.Sprintf(" offsets %d..%d ", b[0], b[1])
		if !strings.HasPrefix(got[i], head) || !strings.Contains(got[i], rng) {
			t.Errorf("ingest_rejects row %q, want %q with %q", got[i], head, rng)
		}
	}
	var dlqOffsets []string
	for i, rec := range readDLQ(t, kc, len(bombs)) {
		if r, _ := header(rec, ingest.HeaderRejectRule); r != ingest.RuleBatchTooLarge {
			t.Errorf("dead-letter record %d rule %q, want %q", i, r, ingest.RuleBatchTooLarge)
		}
		o, _ := header(rec, ingest.HeaderSourceOffset)
		dlqOffsets = append(dlqOffsets, o)
	}
	slices.Sort(dlqOffsets)
	if want := []string{strconv.FormatInt(bombs[0][0], 10), strconv.FormatInt(bombs[1][0], 10)}; !slices.Equal(dlqOffsets, want) {
		t.Errorf("dead-letter records at source offsets %q, want %q", dlqOffsets, want)
	}
	stopChild(t, p)
}
