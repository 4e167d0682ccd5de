package kafkalocal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
	"github.com/secimpact/impact/internal/testenv"
)

func TestCreateTopics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := testenv.Kafka(t)
	suffix := testenv.TopicSuffix(t)
	tests := []struct {
		name       string
		topics     []string
		partitions int
		want       int
	}{
		{name: "explicit count", topics: []string{"a" + suffix, "b" + suffix}, partitions: 5, want: 5},
		{name: "default count", topics: []string{"c" + suffix}, partitions: 0, want: kafkalocal.DefaultPartitions},
		// Existing topics are left alone: same call again, other count.
		{name: "already exists", topics: []string{"a" + suffix}, partitions: 2, want: 5},
		{name: "none", topics: nil},
	}
	admin, err := kafkaio.NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := kafkalocal.CreateTopics(ctx, cfg, tt.topics, tt.partitions); err != nil {
				t.Fatal(err)
			}
			if len(tt.topics) == 0 {
				return
			}
			parts, err := admin.Partitions(ctx, tt.topics)
			if err != nil {
				t.Fatal(err)
			}
			for _, tp := range tt.topics {
				if len(parts[tp]) != tt.want {
					t.Errorf("topic %s: %d partitions, want %d", tp, len(parts[tp]), tt.want)
				}
			}
		})
	}
}

func TestCreateTopicsUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := testenv.Kafka(t)
	cfg.Brokers = []string{"127.0.0.1:1"}
	if err := kafkalocal.CreateTopics(ctx, cfg, []string{"x"}, 1); err == nil {
		t.Fatal("CreateTopics on a closed port: want an error")
	}
}

func TestKafkaTopicsAreSeparatePerTest(t *testing.T) {
	a, b := testenv.Kafka(t), testenv.Kafka(t)
	if a.Topics.Security == b.Topics.Security || a.Topics.DLQ == b.Topics.DLQ {
		t.Fatalf("two calls share topics: %+v and %+v", a.Topics, b.Topics)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kafkaio.NewAdmin(a)
	if err != nil {
		t.Fatal(err)
	}
	all := append(a.Topics.Sources(), a.Topics.DLQTopic())
	parts, err := admin.Partitions(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range all {
		if len(parts[tp]) != testenv.KafkaPartitions {
			t.Errorf("topic %s: %d partitions, want %d", tp, len(parts[tp]), testenv.KafkaPartitions)
		}
	}
}

// Topics of a test are deleted when it ends, so long runs do not pile up
// partitions on the shared broker.
func TestKafkaTopicsDeletedAfterTest(t *testing.T) {
	var cfg config.Kafka
	t.Run("user", func(t *testing.T) { cfg = testenv.Kafka(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kafkaio.NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// Not Partitions: its metadata request would auto-create the topic.
	// Apache Kafka deletes asynchronously, so poll.
	for {
		resp, err := admin.Client().ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{cfg.Topics.Security: {kafka.LastOffsetOf(0)}}})
		if err == nil {
			for _, p := range resp.Topics[cfg.Topics.Security] {
				err = p.Error
			}
		}
		if errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.NotLeaderForPartition) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s 30s after its test ended: %v, want it gone", cfg.Topics.Security, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
