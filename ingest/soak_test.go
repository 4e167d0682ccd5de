package ingest_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/transform"
)

// soakDuration is how long TestHostileProducerSoak produces:
// IMPACT_SOAK_DURATION (a Go duration), default 2 minutes (what CI runs).
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("IMPACT_SOAK_DURATION")
	if s == "" {
		return 2 * time.Minute
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("IMPACT_SOAK_DURATION=%q: want a positive Go duration such as 2m", s)
	}
	return d
}

// soakLedger is what the producer sent: the valid events' identities and
// entities, and how many invalid messages.
type soakLedger struct {
	mu       sync.Mutex
	valid    map[string]bool            // source/id
	entities map[string]map[string]bool // typed table -> entity ids
	// deals is the latest state of each opportunity (by event time, then
	// id, as the analyst tables choose it): deal_facts holds closed deals.
	deals   map[string]*schemas.Event
	invalid int
}

func (l *soakLedger) addValid(t *testing.T, msgs []kafka.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		hs := make([]schemas.Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i] = schemas.Header{Key: h.Key, Value: h.Value}
		}
		ev, err := schemas.Decode(m.Value, hs)
		if err != nil {
			t.Errorf("soak producer: a valid event is invalid: %v", err)
			continue
		}
		l.valid[ev.Source+"/"+ev.ID] = true
		tb := ev.Payload.Table()
		if l.entities[tb] == nil {
			l.entities[tb] = map[string]bool{}
		}
		l.entities[tb][ev.Payload.EntityID()] = true
		if _, ok := ev.Payload.(*schemas.Opportunity); ok {
			id := ev.Payload.EntityID()
			if last := l.deals[id]; last == nil || ev.Time.After(last.Time) || (ev.Time.Equal(last.Time) && ev.ID > last.ID) {
				l.deals[id] = ev
			}
		}
	}
}

// closedDeals counts opportunities whose latest state is closed.
func (l *soakLedger) closedDeals() int {
	n := 0
	for _, ev := range l.deals {
		switch ev.Payload.(*schemas.Opportunity).Outcome {
		case "won", "lost", "no_decision":
			n++
		}
	}
	return n
}

// soakRound returns one round of the hostile mix: valid events (with ~950 kB
// ones on several partitions) and the worst inputs, and the count of
// invalid ones.
func soakRound(topics config.Topics, round int) (valid, invalid []kafka.Message) {
	tag := "soak" + strconv.Itoa(round)
	valid = eventgen.Generate(200, topics, eventgen.Options{Seed: uint64(round) + 1, IDPrefix: tag})
	sec := topics.ForType("security.")
	sup := topics.ForType("support.")
	// ~950 kB valid events on many partitions (distinct keys, two topics).
	for i := range 3 {
		topic := sec
		if i%2 == 1 {
			topic = sup
		}
		id := tag + "-big-" + strconv.Itoa(i)
		valid = append(valid, structured(topic, id, id, "security.finding.opened", "2025-06-01T00:00:00Z",
			findingData("F-"+id, `,"pad":"`+noise(950_000)+`"`)))
	}
	// 100+ years of event_time in one batch (every fourth round): 1971..2105,
	// the years outside the window are rejects, the others valid.
	now := time.Now().UTC()
	for y := 1971; y <= 2105 && round%4 == 0; y++ {
		id := tag + "-y" + strconv.Itoa(y)
		m := structured(sec, "F-"+id, id, "security.finding.updated", strconv.Itoa(y)+"-01-01T00:00:00Z", findingData("F-"+id, ""))
		if y < 2000 || y > now.Year() {
			invalid = append(invalid, m)
		} else {
			valid = append(valid, m)
		}
	}
	// Future-dated state of an existing entity.
	invalid = append(invalid, structured(sec, "F-future", tag+"-future", "security.finding.updated",
		now.Add(2*time.Hour).Format(time.RFC3339), findingData("F-"+tag+"-y2001", "")))
	// Oversized rejects, all with one key: over 1 MiB (size) and 900 kB
	// values quoted by the reason (enum).
	invalid = append(invalid, structured(sec, "one-key", tag+"-huge", "security.finding.opened", "2025-03-01T00:00:00Z",
		findingData("F-huge", `,"pad":"`+noise(1_100_000)+`"`)))
	invalid = append(invalid, structured(sec, "one-key", tag+"-enum", "security.finding.opened", "2025-03-01T00:00:00Z",
		strings.Replace(findingData("F-enum", ""), `"high"`, `"`+noise(900_000)+`"`, 1)))
	// A ce_ header flood in binary mode.
	flood := kafka.Message{Topic: topics.ForType("deployment."), Key: []byte("D-flood"),
		Value: []byte(`{"deployment_id":"D-flood","service_id":"S","environment":"production","started_at":"2025-03-04T09:00:00Z","status":"in_progress","trigger":"feature"}`),
		Headers: []kafka.Header{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(tag + "-flood")},
			{Key: "ce_source", Value: []byte("urn:test:soak")}, {Key: "ce_type", Value: []byte("deployment.started")},
			{Key: "ce_time", Value: []byte("2025-03-04T09:15:00Z")}, {Key: "content-type", Value: []byte("application/json")}}}
	for i := range 5000 {
		flood.Headers = append(flood.Headers, kafka.Header{Key: "ce_x" + strconv.Itoa(i), Value: []byte("v")})
	}
	invalid = append(invalid, flood)
	return valid, invalid
}

// TestHostileProducerSoak: for IMPACT_SOAK_DURATION (2 minutes by default,
// as in CI) a producer sends valid events mixed with the worst inputs
// (oversized rejects with one key, 100+ years of event_time in one batch,
// future times, ce_ header floods, 950 kB events on many partitions) to an
// `impact ingest` child with a 32 MiB budget, while a checker asserts that
// commits keep advancing and RSS stays under the budget's memory limit plus
// rssOverhead. Then every valid event is in ClickHouse once and in the
// analyst tables after a transform, and every invalid one is in the DLQ
// and ingest_rejects.
func TestHostileProducerSoak(t *testing.T) {
	t.Parallel()
	dur := soakDuration(t)
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	bin := buildImpact(t)
	ctx, cancel := context.WithTimeout(context.Background(), dur+10*time.Minute)
	defer cancel()
	if err := migrate(ctx, cc); err != nil {
		t.Fatal(err)
	}
	// Source topics accept 4 MiB (so over-1 MiB events reach ingest to be
	// rejected); the DLQ topic only 300,000 bytes.
	for _, topic := range kc.Topics.Sources() {
		setTopicConfig(t, kc, topic, "max.message.bytes", strconv.Itoa(4<<20))
	}
	setTopicConfig(t, kc, kc.Topics.DLQTopic(), "max.message.bytes", "300000")

	const budgetMiB = 32
	group := groupName(t)
	// Default flush age (1 s): fewer, larger parts than the tests' 200 ms.
	p := startIngest(t, bin, childEnv(kc, cc), "--group", group, "--memory-budget-mib", strconv.Itoa(budgetMiB), "--flush-age", "1s")
	p.addr()
	bound := ingest.MemoryLimit(budgetMiB<<20) + rssOverhead

	tr, err := kafkaio.Transport(kc)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond, BatchBytes: 4 << 20, Transport: tr}
	defer w.Close()

	ledger := &soakLedger{valid: map[string]bool{}, entities: map[string]map[string]bool{}, deals: map[string]*schemas.Event{}}
	stop := time.Now().Add(dur)
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for round := 0; time.Now().Before(stop) && ctx.Err() == nil; round++ {
			valid, invalid := soakRound(kc.Topics, round)
			ledger.addValid(t, valid)
			ledger.mu.Lock()
			ledger.invalid += len(invalid)
			ledger.mu.Unlock()
			msgs := append(valid, invalid...)
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Errorf("soak producer, round %d: %v", round, err)
				return
			}
			time.Sleep(2 * time.Second)
		}
	}()

	// Checker: commits advance in every 30 s window while producing, RSS
	// stays under the bound.
	var commits []float64
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
checking:
	for {
		select {
		case <-producerDone:
			break checking
		case <-tick.C:
		}
		if !p.running() {
			t.Fatalf("ingester exited during the soak: %v", p.err)
		}
		c := p.metric("impact_ingest_commits_total")
		commits = append(commits, c)
		if n := len(commits); n >= 4 && commits[n-1] <= commits[n-4] {
			t.Errorf("no commit in 30 s of producing (commits %v)", commits)
		}
		if rss := currentRSS(t, p); rss > bound {
			t.Errorf("RSS %d MiB over the bound %d MiB", rss>>20, bound>>20)
		}
	}
	t.Logf("produced for %v: %d valid events, %d invalid; commits sampled %v", dur, len(ledger.valid), ledger.invalid, commits)

	waitUntil(t, 5*time.Minute, "caught up after the soak", func() bool { return caughtUp(t, kc, group) })
	peak := peakRSS(t, p)
	t.Logf("peak RSS %d MiB (bound %d MiB: memory limit of a %d MiB budget + %d MiB)", peak>>20, bound>>20, budgetMiB, rssOverhead>>20)
	if peak > bound {
		t.Errorf("peak RSS %d MiB over the bound %d MiB", peak>>20, bound>>20)
	}
	if u := p.metric("impact_ingest_dlq_undeliverable_total"); u != 0 {
		t.Errorf("%v rejects took the last resort; every one should fit the DLQ", u)
	}

	conn := openCH(t, cc)
	nValid := uint64(len(ledger.valid))
	if got := queryUint(t, conn, "SELECT count() FROM events_raw FINAL"); got != nValid {
		t.Errorf("events_raw FINAL holds %d events, want %d", got, nValid)
	}
	if got := queryUint(t, conn, "SELECT uniqExact(event_source, event_id) FROM events_raw"); got != nValid {
		t.Errorf("events_raw has %d identities, want %d", got, nValid)
	}
	if got := queryUint(t, conn, "SELECT count() FROM ingest_rejects FINAL"); got != uint64(ledger.invalid) {
		t.Errorf("ingest_rejects FINAL holds %d rows, want %d", got, ledger.invalid)
	}
	readDLQ(t, kc, ledger.invalid)

	// The analyst tables: one row per entity, each entity once.
	if _, err := transform.Refresh(ctx, conn, transform.Options{}); err != nil {
		t.Fatalf("transform: %v", err)
	}
	for _, c := range []struct {
		analyst, key string
		want         int
	}{
		{"findings", "finding_id", len(ledger.entities["finding_events"])},
		{"deployment_facts", "deployment_id", len(ledger.entities["deployment_events"])},
		{"ticket_facts", "ticket_id", len(ledger.entities["ticket_events"])},
		{"deal_facts", "opportunity_id", ledger.closedDeals()}, // closed deals only
	} {
		want := uint64(c.want)
		// Names are constants of this test.
		rows := queryUint(t, conn, "SELECT count() FROM "+c.analyst)
		keys := queryUint(t, conn, "SELECT uniqExact("+c.key+") FROM "+c.analyst)
		if rows != want || keys != want {
			t.Errorf("%s: %d rows, %d distinct %s; want %d entities once each", c.analyst, rows, keys, c.key, want)
		}
	}
	checkCommitted(t, kc, group)
	stopChild(t, p)
	// Drop the test's tables here, with the soak's deadline: thousands of
	// parts (every 100-years batch leaves one per year) take ClickHouse
	// 18.16 longer to drop than the test database's cleanup allows on a
	// busy machine.
	var tables []string
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, tb := range tables {
		// Names read from system.tables, backquoted.
		if err := conn.Exec(ctx, "DROP TABLE IF EXISTS `"+strings.ReplaceAll(tb, "`", "")+"`"); err != nil {
			t.Logf("drop %s: %v", tb, err)
		}
	}
}

// stopChild ends an ingest child with SIGTERM, which must exit 0 (and
// leaves no INSERT running that would hold the test database).
func stopChild(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if err := p.wait(time.Minute); err != nil {
		t.Errorf("ingest after SIGTERM: %v, want exit 0", err)
	}
}

// currentRSS is the child's resident set now (VmRSS).
func currentRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0 // exited: reported by the caller
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
