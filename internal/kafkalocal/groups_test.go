package kafkalocal_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

// TestConsumerGroupRoundTrip is the contract ingest relies on, run against
// whichever Kafka testenv selects (kfake by default, Apache Kafka with
// IMPACT_TEST_KAFKA=real): a kafka-go Writer produces, a kafka-go
// ConsumerGroup with one partition Reader per assignment fetches and commits
// through the generation, the committed offsets are readable with
// OffsetFetch, and a new generation of the group starts at them.
func TestConsumerGroupRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		topics   func(config.Topics) []string
		messages int
	}{
		{name: "one topic", topics: func(tp config.Topics) []string { return []string{tp.Security} }, messages: 60},
		{name: "five source topics", topics: func(tp config.Topics) []string { return tp.Sources() }, messages: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cfg := testenv.Kafka(t)
			topics := tt.topics(cfg.Topics)

			produce(ctx, t, cfg, topics, tt.messages)

			admin, err := kafkaio.NewAdmin(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			end, err := admin.EndOffsets(ctx, topics)
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, ps := range end {
				for _, off := range ps {
					total += off
				}
			}
			if total != int64(tt.messages) {
				t.Fatalf("end offsets sum to %d, want %d messages: %v", total, tt.messages, end)
			}

			group := "roundtrip" + testenv.TopicSuffix(t)
			got, starts := consumeAndCommit(ctx, t, cfg, group, topics, tt.messages)
			if got != tt.messages {
				t.Fatalf("consumed %d messages, want %d", got, tt.messages)
			}
			for tp, ps := range starts {
				for p, off := range ps {
					if off != kafka.FirstOffset && off != 0 {
						t.Errorf("first generation started %s/%d at %d, want the first offset", tp, p, off)
					}
				}
			}

			committed, err := admin.CommittedOffsets(ctx, group, topics)
			if err != nil {
				t.Fatal(err)
			}
			if !equalOffsets(committed, end) {
				t.Fatalf("committed offsets %v, want the end offsets %v", committed, end)
			}

			// A new generation must be handed the committed offsets.
			got, starts = consumeAndCommit(ctx, t, cfg, group, topics, 0)
			if got != 0 {
				t.Fatalf("second generation consumed %d messages, want 0", got)
			}
			if !equalOffsets(starts, end) {
				t.Fatalf("second generation started at %v, want the committed offsets %v", starts, end)
			}
		})
	}
}

func produce(ctx context.Context, t *testing.T, cfg config.Kafka, topics []string, n int) {
	t.Helper()
	tr, err := kafkaio.Transport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Transport:    tr,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
	}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{
			Topic: topics[i%len(topics)],
			Key:   fmt.Appendf(nil, "entity-%d", i%17),
			Value: fmt.Appendf(nil, `{"n":%d}`, i),
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce %d messages: %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
}

// consumeAndCommit joins group, reads every assigned partition until want
// messages arrived (or, for want 0, for a short quiet period), commits the
// next offsets through the generation and leaves. It returns the number of
// messages read and the offsets the generation was told to start at.
func consumeAndCommit(ctx context.Context, t *testing.T, cfg config.Kafka, group string, topics []string, want int) (int, kafkaio.Offsets) {
	t.Helper()
	dialer, err := kafkaio.Dialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                group,
		Brokers:           cfg.Brokers,
		Dialer:            dialer,
		Topics:            topics,
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
	})
	if err != nil {
		t.Fatalf("new consumer group: %v", err)
	}
	defer cg.Close()
	gen, err := kafkaio.NextGeneration(ctx, cg)
	if err != nil {
		t.Fatalf("join group %s: %v", group, err)
	}

	type fetched struct {
		topic     string
		partition int
		offset    int64
	}
	msgs := make(chan fetched)
	starts := kafkaio.Offsets{}
	var mu sync.Mutex
	for topic, assignments := range gen.Assignments {
		for _, a := range assignments {
			mu.Lock()
			if starts[topic] == nil {
				starts[topic] = map[int]int64{}
			}
			starts[topic][a.ID] = a.Offset
			mu.Unlock()
			gen.Start(func(ctx context.Context) {
				r := kafka.NewReader(kafka.ReaderConfig{
					Brokers:   cfg.Brokers,
					Dialer:    dialer,
					Topic:     topic,
					Partition: a.ID,
					MinBytes:  1,
					MaxBytes:  10 << 20, // kafka-go panics when MinBytes is set without MaxBytes
					MaxWait:   100 * time.Millisecond,
				})
				defer r.Close()
				if err := r.SetOffset(a.Offset); err != nil {
					t.Errorf("set offset %s/%d: %v", topic, a.ID, err)
					return
				}
				for {
					m, err := r.FetchMessage(ctx)
					if err != nil {
						if !errors.Is(err, context.Canceled) && ctx.Err() == nil {
							t.Errorf("fetch %s/%d: %v", topic, a.ID, err)
						}
						return
					}
					select {
					case msgs <- fetched{m.Topic, m.Partition, m.Offset}:
					case <-ctx.Done():
						return
					}
				}
			})
		}
	}

	next := map[string]map[int]int64{}
	got := 0
	quiet := time.NewTimer(2 * time.Second)
	defer quiet.Stop()
loop:
	for want == 0 || got < want {
		select {
		case m := <-msgs:
			got++
			if next[m.topic] == nil {
				next[m.topic] = map[int]int64{}
			}
			next[m.topic][m.partition] = m.offset + 1
		case <-quiet.C:
			if want == 0 {
				break loop
			}
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d messages: %v", got, want, ctx.Err())
		}
	}
	if len(next) > 0 {
		if err := gen.CommitOffsets(next); err != nil {
			t.Fatalf("commit offsets: %v", err)
		}
	}
	if err := cg.Close(); err != nil {
		t.Fatalf("leave group: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got, maps.Clone(starts)
}

// equalOffsets compares per partition; partitions with offset 0 in want may
// be missing or -1 (nothing committed) in got.
func equalOffsets(got, want kafkaio.Offsets) bool {
	for tp, ps := range want {
		for p, w := range ps {
			g, ok := got[tp][p]
			if w == 0 && (!ok || g == -1 || g == 0) {
				continue
			}
			if !ok || g != w {
				return false
			}
		}
	}
	return true
}
