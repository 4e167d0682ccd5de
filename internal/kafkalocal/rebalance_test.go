package kafkalocal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

// TestConsumerGroupRebalance checks what two ingesters in one group rely on,
// on both kfake and Apache Kafka: two kafka-go members share the partitions
// (disjoint, together all of them), and when one leaves the other is handed
// every partition in its next generation.
func TestConsumerGroupRebalance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testenv.Kafka(t)
	topics := cfg.Topics.Sources()
	group := "rebalance" + testenv.TopicSuffix(t)
	dialer, err := kafkaio.Dialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	newMember := func() *kafka.ConsumerGroup {
		cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID: group, Brokers: cfg.Brokers, Dialer: dialer, Topics: topics,
			HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 6 * time.Second,
			RebalanceTimeout: 6 * time.Second, JoinGroupBackoff: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return cg
	}
	count := func(gen *kafka.Generation) map[string]int {
		out := map[string]int{}
		for tp, as := range gen.Assignments {
			for _, a := range as {
				out[fmt.Sprintf("%s/%d", tp, a.ID)]++
			}
		}
		return out
	}
	total := len(topics) * testenv.KafkaPartitions

	a := newMember()
	defer a.Close()
	genA, err := kafkaio.NextGeneration(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(count(genA)); n != total {
		t.Fatalf("single member got %d partitions, want %d", n, total)
	}

	// A second member joins: a's generation ends, both get a share.
	b := newMember()
	defer b.Close()
	type res struct {
		gen *kafka.Generation
		err error
	}
	bc := make(chan res, 1)
	go func() { g, err := kafkaio.NextGeneration(ctx, b); bc <- res{g, err} }()
	genA2, err := kafkaio.NextGeneration(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	rb := <-bc
	if rb.err != nil {
		t.Fatal(rb.err)
	}
	sa, sb := count(genA2), count(rb.gen)
	if len(sa) == 0 || len(sb) == 0 || len(sa)+len(sb) != total {
		t.Fatalf("shares %d + %d partitions, want two non-empty shares of %d", len(sa), len(sb), total)
	}
	for p := range sa {
		if sb[p] > 0 {
			t.Fatalf("partition %s assigned to both members", p)
		}
	}

	// b leaves: a's next generation has everything again.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	genA3, err := kafkaio.NextGeneration(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(count(genA3)); n != total {
		t.Fatalf("after the other member left: %d partitions, want %d", n, total)
	}
}
