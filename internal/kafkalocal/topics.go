package kafkalocal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
)

// CreateTopics creates topics with the given partition count (default 3) on
// the cluster at cfg.Brokers, with the broker's default replication factor,
// and waits until every partition has a leader. Topics that already exist
// are left as they are. It works against kfake and Apache Kafka alike.
func CreateTopics(ctx context.Context, cfg config.Kafka, topics []string, partitions int) error {
	if len(topics) == 0 {
		return nil
	}
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	client, err := kafkaio.Client(cfg)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	defer client.Transport.(*kafka.Transport).CloseIdleConnections()

	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		// -1: the broker's default.replication.factor, so the same call
		// works on a one-node test broker and on a real cluster.
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	for t, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, terr)
		}
	}
	return waitTopics(ctx, client, topics)
}

// waitTopics polls metadata until every topic exists and all its partitions
// have a leader: Apache Kafka answers CreateTopics before the controller has
// elected leaders, and a produce in that window fails.
func waitTopics(ctx context.Context, client *kafka.Client, topics []string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		if err == nil {
			last = topicsReady(md, topics)
			if last == nil {
				return nil
			}
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for topics %v: %w", topics, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for topics %v: %w (last: %v)", topics, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func topicsReady(md *kafka.MetadataResponse, want []string) error {
	var seen []string
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s: no partitions yet", t.Name)
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.ID < 0 || p.Leader.Host == "" {
				return fmt.Errorf("topic %s partition %d: no leader yet", t.Name, p.ID)
			}
		}
		seen = append(seen, t.Name)
	}
	for _, w := range want {
		if !slices.Contains(seen, w) {
			return fmt.Errorf("topic %s: not in metadata yet", w)
		}
	}
	return nil
}
