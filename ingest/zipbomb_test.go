package ingest_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

// TestZipBombSkipped: a gzip record batch of four 64 MiB values of zeros
// (256 MiB decompressed, a few hundred kB on the wire, within the topic's
// max.message.bytes) between valid events of one partition. The ingester,
// a child process with a 16 MiB budget, stops decompressing it at the
// limit, skips exactly that batch, records its offset range in
// ingest_rejects and the dead-letter topic (rule batch_too_large), stores
// the events before and after it, commits past it, and its peak RSS stays
// under the memory bound.
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
	w := &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Balancer: toP0, RequiredAcks: kafka.RequireAll,
		Compression: kafka.Gzip, BatchSize: records, BatchBytes: 1 << 30, BatchTimeout: time.Second, Transport: tr}
	if err := w.WriteMessages(ctx, bomb...); err != nil {
		t.Fatalf("produce the bomb: %v", err)
	}
	w.Close()
	produceWith(t, kc, toP0, []kafka.Message{event("after-1"), event("after-2"), event("after-3")})
	const valid = 5
	firstBomb, lastBomb := int64(2), int64(2+records-1)

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
	if got := p.metric("impact_ingest_rejected_total"); got != 1 {
		t.Errorf("impact_ingest_rejected_total = %v, want 1", got)
	}

	conn := openCH(t, cc)
	if got := queryUint(t, conn, "SELECT count() FROM finding_events FINAL"); got != valid {
		t.Errorf("finding_events holds %d events, want %d (before and after the bomb)", got, valid)
	}
	var rule, detail string
	var offset int64
	if err := conn.QueryRow(ctx, "SELECT kafka_offset, rule, detail FROM ingest_rejects FINAL WHERE kafka_topic = ? AND kafka_partition = 0",
		topic).Scan(&offset, &rule, &detail); err != nil {
		t.Fatalf("the bomb's ingest_rejects row: %v", err)
	}
	want := "offsets " + strconv.FormatInt(firstBomb, 10) + ".." + strconv.FormatInt(lastBomb, 10) + " "
	if offset != firstBomb || rule != ingest.RuleBatchTooLarge || !strings.Contains(detail, want) {
		t.Errorf("ingest_rejects row at %d, rule %q, detail %q; want offset %d, rule %q, detail with %q",
			offset, rule, detail, firstBomb, ingest.RuleBatchTooLarge, want)
	}
	dlq := readDLQ(t, kc, 1)
	if len(dlq) == 1 {
		if r, _ := header(dlq[0], ingest.HeaderRejectRule); r != ingest.RuleBatchTooLarge {
			t.Errorf("dead-letter record rule %q, want %q", r, ingest.RuleBatchTooLarge)
		}
		if o, _ := header(dlq[0], ingest.HeaderSourceOffset); o != strconv.FormatInt(firstBomb, 10) {
			t.Errorf("dead-letter record source offset %s, want %d", o, firstBomb)
		}
	}
	stopChild(t, p)
}
