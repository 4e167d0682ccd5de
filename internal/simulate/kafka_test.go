package simulate

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestPublish publishes a small simulation to Kafka (embedded kfake, or the
// real broker with IMPACT_TEST_KAFKA=real) and reads every topic back: one
// message per line, on the topic of its type, keyed by the entity id.
func TestPublish(t *testing.T) {
	cfg := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := kafkaio.NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Seed: 11, Days: 20, Scale: 0.2, Params: Params{InvalidShare: 0.02}}
	truth, stats, err := Publish(ctx, w, opts, kafkaio.PublishOptions{Topics: cfg.Topics})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if stats.Published != truth.Delivery.Lines {
		t.Fatalf("published %d, truth has %d lines", stats.Published, truth.Delivery.Lines)
	}
	// What each topic must hold, from the records themselves.
	recs, _ := collect(t, opts)
	wantTopic := map[string]int{}
	wantKey := map[string]int{} // topic \x00 key -> count, valid events only
	for _, r := range recs {
		topic := cfg.Topics.ForType(r.Type)
		if r.Invalid == "not_json" {
			topic = cfg.Topics.ForType("security.") // the publisher sends non-JSON raw to the security topic
		}
		wantTopic[topic]++
		if r.Invalid == "" {
			wantKey[topic+"\x00"+r.Subject]++
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(cfg.Topics.Sources()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	gotTopic := map[string]int{}
	gotKey := map[string]int{}
	n := 0
	for n < truth.Delivery.Lines && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			n++
			gotTopic[r.Topic]++
			gotKey[r.Topic+"\x00"+string(r.Key)]++
		})
	}
	if n != truth.Delivery.Lines {
		t.Fatalf("read %d messages, want %d", n, truth.Delivery.Lines)
	}
	for topic, c := range wantTopic {
		if gotTopic[topic] != c {
			t.Errorf("topic %s: %d messages, want %d", topic, gotTopic[topic], c)
		}
	}
	for k, c := range wantKey {
		if gotKey[k] < c {
			t.Errorf("key %q: %d messages, want at least %d", k, gotKey[k], c)
		}
	}
}
