package kafkalocal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

// TestWriterAutoCreatesTopic documents a difference between the two Kafkas:
// a kafka-go Writer with AllowAutoTopicCreation writing to a missing topic
// succeeds at once on kfake (it creates topics synchronously) but fails the
// first write with UnknownTopicOrPartition on Apache Kafka (creation is
// asynchronous and kafka-go does not retry it). Writing again shortly after
// succeeds on both, which is why `impact publish` creates topics first.
func TestWriterAutoCreatesTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testenv.Kafka(t)
	tr, err := kafkaio.Transport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond}
	defer w.Close()
	topic := "auto" + testenv.TopicSuffix(t)
	msg := kafka.Message{Topic: topic, Value: []byte("x")}

	err = w.WriteMessages(ctx, msg)
	switch testenv.KafkaMode() {
	case "embedded":
		if err != nil {
			t.Fatalf("kfake: first write to a new topic: %v, want success", err)
		}
	case "real":
		if err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
			t.Fatalf("Apache Kafka: first write to a new topic: %v, want success or UnknownTopicOrPartition", err)
		}
		t.Logf("Apache Kafka: first write to a new topic: %v", err)
	}
	for err != nil {
		select {
		case <-ctx.Done():
			t.Fatalf("write to auto-created topic: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		err = w.WriteMessages(ctx, msg)
	}
}
