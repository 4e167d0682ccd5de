package kafkaio_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	finding  = `{"specversion":"1.0","id":"e1","source":"scanner/snyk","type":"security.finding.opened","time":"2026-01-02T03:04:05Z","subject":"F-1","datacontenttype":"application/json","data":{"finding_id":"F-1","severity":"high"}}`
	deploy   = `{"specversion":"1.0","id":"e2","source":"ci/gh","type":"deployment.finished","time":"2026-01-02T03:04:05Z","data":{"deployment_id":"D-9"}}`
	deal     = `{"specversion":"1.0","id":"e3","source":"crm/sf","type":"crm.opportunity.closed","time":"2026-01-02T03:04:05Z","subject":"O-7","partitionkey":42,"data":{"opportunity_id":"O-7"}}`
	ticket   = `{"specversion":"1.0","id":"e4","source":"zd","type":"support.ticket.rated","time":"2026-01-02T03:04:05Z","subject":"T-3","data_base64":"aGVsbG8=","datacontenttype":"application/octet-stream"}`
	service  = `{"specversion":"1.0","id":"e5","source":"cat","type":"catalog.service.upserted","time":"2026-01-02T03:04:05Z","subject":"svc-a","data":{"service_id":"svc-a"}}`
	textData = `{"specversion":"1.0","id":"e6","source":"x","type":"security.review.updated","time":"2026-01-02T03:04:05Z","datacontenttype":"text/plain","data":"plain words"}`
	unknown  = `{"specversion":"1.0","id":"e7","source":"x","type":"hr.person.hired","time":"2026-01-02T03:04:05Z","data":{}}`
	notJSON  = `{"specversion":"1.0","id":`
	array    = `[1,2,3]`
	numType  = `{"id":"e8","type":7}`
)

// want describes one message expected on the wire.
type want struct {
	topic   string // "security", "deployment", ... resolved against the test's topics
	key     string
	value   string
	headers map[string]string
}

func TestPublish(t *testing.T) {
	ct := map[string]string{"content-type": schemas.StructuredContentType}
	tests := []struct {
		name      string
		input     string
		binary    bool
		chunk     int
		want      []want
		notEvents int
		blank     int
	}{
		{
			name:  "structured, routed by family, keyed by subject else id",
			input: strings.Join([]string{finding, deploy, deal, ticket, service, unknown}, "\n") + "\n",
			want: []want{
				{"security", "F-1", finding, ct},
				{"deployment", "e2", deploy, ct},
				{"crm", "O-7", deal, ct},
				{"support", "T-3", ticket, ct},
				{"catalog", "svc-a", service, ct},
				{"security", "e7", unknown, ct},
			},
		},
		{
			name:      "lines that are not events go raw to the security topic",
			input:     notJSON + "\n" + array + "\n" + numType + "\n" + finding,
			want:      []want{{"security", "", notJSON, ct}, {"security", "", array, ct}, {"security", "", numType, ct}, {"security", "F-1", finding, ct}},
			notEvents: 3,
		},
		{
			name:  "blank lines skipped, CRLF and missing final newline accepted",
			input: "\r\n" + deploy + "\r\n   \n" + service,
			chunk: 1,
			want:  []want{{"deployment", "e2", deploy, ct}, {"catalog", "svc-a", service, ct}},
			blank: 2,
		},
		{
			name:   "binary mode",
			binary: true,
			input:  strings.Join([]string{finding, deal, ticket, textData, notJSON}, "\n"),
			want: []want{
				{"security", "F-1", `{"finding_id":"F-1","severity":"high"}`, map[string]string{
					"ce_specversion": "1.0", "ce_id": "e1", "ce_source": "scanner/snyk", "ce_type": "security.finding.opened",
					"ce_time": "2026-01-02T03:04:05Z", "ce_subject": "F-1", "content-type": "application/json"}},
				{"crm", "O-7", `{"opportunity_id":"O-7"}`, map[string]string{
					"ce_specversion": "1.0", "ce_id": "e3", "ce_source": "crm/sf", "ce_type": "crm.opportunity.closed",
					"ce_time": "2026-01-02T03:04:05Z", "ce_subject": "O-7", "ce_partitionkey": "42", "content-type": "application/json"}},
				{"support", "T-3", "hello", map[string]string{
					"ce_specversion": "1.0", "ce_id": "e4", "ce_source": "zd", "ce_type": "support.ticket.rated",
					"ce_time": "2026-01-02T03:04:05Z", "ce_subject": "T-3", "content-type": "application/octet-stream"}},
				{"security", "e6", "plain words", map[string]string{
					"ce_specversion": "1.0", "ce_id": "e6", "ce_source": "x", "ce_type": "security.review.updated",
					"ce_time": "2026-01-02T03:04:05Z", "content-type": "text/plain"}},
				{"security", "", notJSON, ct},
			},
			notEvents: 1,
		},
		{
			name:  "event over 1 MiB is published, for ingest to reject",
			input: bigEvent(1<<20 + 1000),
			want:  []want{{"security", "F-big", bigEvent(1<<20 + 1000), ct}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := testenv.Kafka(t)
			w, err := kafkaio.NewWriter(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			stats, err := kafkaio.Publish(ctx, w, strings.NewReader(tt.input), kafkaio.PublishOptions{Topics: cfg.Topics, Binary: tt.binary, ChunkSize: tt.chunk})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Published != len(tt.want) || stats.NotEvents != tt.notEvents || stats.Blank != tt.blank {
				t.Fatalf("stats %+v: want %d published, %d not events, %d blank", stats, len(tt.want), tt.notEvents, tt.blank)
			}
			topicOf := map[string]string{
				"security": cfg.Topics.Security, "deployment": cfg.Topics.Deployment, "crm": cfg.Topics.CRM,
				"support": cfg.Topics.Support, "catalog": cfg.Topics.Catalog,
			}
			wantPer := map[string]int{}
			for _, w := range tt.want {
				wantPer[topicOf[w.topic]]++
			}
			if fmt.Sprint(stats.PerTopic) != fmt.Sprint(wantPer) {
				t.Fatalf("per topic %v, want %v", stats.PerTopic, wantPer)
			}

			got := readAll(ctx, t, cfg, cfg.Topics.Sources())
			if len(got) != len(tt.want) {
				t.Fatalf("read %d messages back, want %d", len(got), len(tt.want))
			}
			// Within a partition order is kept; across partitions it is not,
			// so match by value.
			for _, w := range tt.want {
				m, ok := find(got, w.value)
				if !ok {
					t.Fatalf("no message with value %.80q", w.value)
				}
				if m.Topic != topicOf[w.topic] || string(m.Key) != w.key {
					t.Errorf("value %.60q: topic %s key %q, want %s %q", w.value, m.Topic, m.Key, topicOf[w.topic], w.key)
				}
				if gotH := headerMap(m.Headers); fmt.Sprint(gotH) != fmt.Sprint(w.headers) {
					t.Errorf("value %.60q: headers %v, want %v", w.value, gotH, w.headers)
				}
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testenv.Kafka(t)
	w, err := kafkaio.NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stats, err := kafkaio.Publish(ctx, w, strings.NewReader(finding+"\n"+bigEvent(5000)+"\n"+deploy), kafkaio.PublishOptions{Topics: cfg.Topics, MaxLineBytes: 1000})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("line over MaxLineBytes: err = %v, want an error naming line 2", err)
	}
	if stats.Published != 1 || stats.PerTopic[cfg.Topics.Security] != 1 {
		t.Fatalf("line over MaxLineBytes: stats %+v, want the line before it published and nothing after", stats)
	}

	bad := config.Kafka{Brokers: []string{"127.0.0.1:1"}}
	wb, err := kafkaio.NewWriter(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	wb.MaxAttempts = 1
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	stats, err = kafkaio.Publish(sctx, wb, strings.NewReader(finding), kafkaio.PublishOptions{})
	if err == nil || stats.Published != 0 {
		t.Fatalf("unreachable broker: stats %+v err %v, want an error and nothing published", stats, err)
	}
	if _, err := kafkaio.NewWriter(config.Kafka{}); err == nil {
		t.Fatal("NewWriter without brokers: want an error")
	}
}

func bigEvent(size int) string {
	pad := strings.Repeat("x", size)
	return `{"specversion":"1.0","id":"big","source":"s","type":"security.finding.opened","time":"2026-01-02T03:04:05Z","subject":"F-big","data":{"title":"` + pad + `"}}`
}

func headerMap(hs []kafka.Header) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[h.Key] = string(h.Value)
	}
	return m
}

func find(ms []kafka.Message, value string) (kafka.Message, bool) {
	for _, m := range ms {
		if bytes.Equal(m.Value, []byte(value)) {
			return m, true
		}
	}
	return kafka.Message{}, false
}

// readAll reads every message of topics from the first offset to the end
// offsets, partition by partition.
func readAll(ctx context.Context, t *testing.T, cfg config.Kafka, topics []string) []kafka.Message {
	t.Helper()
	admin, err := kafkaio.NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	end, err := admin.EndOffsets(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	dialer, err := kafkaio.Dialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	tps := make([]string, 0, len(end))
	for tp := range end {
		tps = append(tps, tp)
	}
	sort.Strings(tps)
	for _, tp := range tps {
		for p, last := range end[tp] {
			if last == 0 {
				continue
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Dialer: dialer, Topic: tp, Partition: p, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					r.Close()
					t.Fatalf("read %s/%d: %v", tp, p, err)
				}
				out = append(out, m)
				if m.Offset+1 >= last {
					break
				}
			}
			r.Close()
		}
	}
	return out
}

// BenchmarkPublish publishes typical events (about 640 bytes) to the Kafka
// testenv selects (kfake, or Apache Kafka with IMPACT_TEST_KAFKA=real) and
// reports messages per second, acknowledged by all replicas:
//
//	go test -run '^$' -bench Publish -benchtime 100000x ./internal/kafkaio
func BenchmarkPublish(b *testing.B) {
	cfg := testenv.Kafka(b)
	line := `{"specversion":"1.0","id":"e%d","source":"bench/gen","type":"%s","time":"2026-01-02T03:04:05Z","subject":"E-%d","data":{"finding_id":"F-1","scanner":"snyk","category":"sca","severity":"high","service_id":"svc-1","status":"open","detected_at":"2026-01-01T00:00:00Z","title":"` + strings.Repeat("x", 300) + `"}}` + "\n"
	families := []string{"security.finding.opened", "deployment.finished", "crm.opportunity.closed", "support.ticket.created", "catalog.service.upserted"}
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		fmt.Fprintf(&buf, line, i, families[i%len(families)], i%5000)
	}
	w, err := kafkaio.NewWriter(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.SetBytes(int64(buf.Len() / b.N))
	b.ResetTimer()
	stats, err := kafkaio.Publish(context.Background(), w, &buf, kafkaio.PublishOptions{Topics: cfg.Topics})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if stats.Published != b.N {
		b.Fatalf("published %d of %d", stats.Published, b.N)
	}
	b.ReportMetric(float64(stats.Published)/stats.Elapsed.Seconds(), "msg/s")
}
