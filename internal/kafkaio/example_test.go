package kafkaio_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
)

// Publish a JSON Lines stream of CloudEvents, as `impact publish` does.
func ExamplePublish() {
	ctx := context.Background()
	cluster, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	cfg := config.Kafka{Brokers: cluster.Brokers()}
	if err := kafkalocal.CreateTopics(ctx, cfg, cfg.Topics.Sources(), 3); err != nil {
		log.Fatal(err)
	}

	w, err := kafkaio.NewWriter(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	events := `{"specversion":"1.0","id":"1","source":"ci","type":"deployment.started","time":"2026-01-02T03:04:05Z","subject":"D-1","data":{"deployment_id":"D-1"}}
{"specversion":"1.0","id":"2","source":"crm","type":"crm.opportunity.created","time":"2026-01-02T03:04:05Z","subject":"O-1","data":{"opportunity_id":"O-1"}}
not json at all
`
	stats, err := kafkaio.Publish(ctx, w, strings.NewReader(events), kafkaio.PublishOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.Published, "published,", stats.NotEvents, "not events")
	fmt.Println(stats.PerTopic)
	// Output:
	// 3 published, 1 not events
	// map[crm.events:1 deployment.events:1 security.events:1]
}

// Consumers (kafka.Reader, kafka.ConsumerGroup) take a Dialer; writers and
// admin clients take a Transport. Both carry the same TLS and SASL settings.
func ExampleDialer() {
	cfg := config.Kafka{Brokers: []string{"kafka.example:9093"}, TLS: true, SASLMechanism: "SCRAM-SHA-512", SASLUser: "impact", SASLPassword: "secret"}
	d, err := kafkaio.Dialer(cfg)
	if err != nil {
		log.Fatal(err)
	}
	tr, err := kafkaio.Transport(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.SASLMechanism.Name(), d.TLS != nil, tr.SASL.Name(), tr.TLS != nil)
	// Output: SCRAM-SHA-512 true SCRAM-SHA-512 true
}
