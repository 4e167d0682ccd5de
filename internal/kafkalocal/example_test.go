package kafkalocal_test

import (
	"context"
	"fmt"
	"log"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
)

// An embedded cluster for a demo or a test: start it, create the contract's
// topics, hand its brokers to kafka-go clients through config.Kafka.
func ExampleStartEmbedded() {
	ctx := context.Background()
	kafka, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer kafka.Close()

	cfg := config.Kafka{Brokers: kafka.Brokers(), Topics: config.DefaultTopics()}
	topics := append(cfg.Topics.Sources(), cfg.Topics.DLQTopic())
	if err := kafkalocal.CreateTopics(ctx, cfg, topics, 3); err != nil {
		log.Fatal(err)
	}

	admin, err := kafkaio.NewAdmin(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	parts, err := admin.Partitions(ctx, topics)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Topics.Security, parts[cfg.Topics.Security])
	fmt.Println(cfg.Topics.DLQ, parts[cfg.Topics.DLQ])
	// Output:
	// security.events [0 1 2]
	// impact.dlq [0 1 2]
}
