package kafkalocal

import (
	"context"
	"fmt"
	"time"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
)

// CreateTopics creates topics with the given partition count (default 3) on
// the cluster at cfg.Brokers, with the broker's default replication factor,
// and waits (up to 30 s) until every partition has a leader. Topics that
// already exist are left as they are. It works against kfake and Apache
// Kafka alike.
func CreateTopics(ctx context.Context, cfg config.Kafka, topics []string, partitions int) error {
	if len(topics) == 0 {
		return nil
	}
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	admin, err := kafkaio.NewAdmin(cfg)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return admin.CreateTopics(ctx, topics, partitions)
}
