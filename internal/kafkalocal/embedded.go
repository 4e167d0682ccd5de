// Package kafkalocal runs Kafka for tests and the demo: an embedded
// Kafka-protocol cluster (franz-go's kfake) inside the process, and a real
// Apache Kafka broker (KRaft, single node) started from Maven-fetched jars by
// scripts/kafka-broker.sh.
//
// Both listen on free loopback ports only; kafka-go talks to either over TCP.
//
// What differs between the two, as kafka-go v0.4.51 sees them (the group,
// topic and size points are checked by tests here that run on both; docs/kafka.md has
// the full list):
//   - kafka-go negotiates JoinGroup v2, SyncGroup v0, OffsetCommit v2,
//     OffsetFetch v1, Fetch v10, Produce v8, Metadata v6/v8; both accept them.
//   - kfake creates a missing topic synchronously when a writer asks (only
//     because StartEmbedded enables AllowAutoTopicCreation; kfake's default
//     is off); Apache Kafka creates it asynchronously and kafka-go's Writer
//     fails the first write. Create topics first with CreateTopics.
//   - On a fresh Apache Kafka broker the first consumer group sees
//     GroupCoordinatorNotAvailable; use kafkaio.NextGeneration.
//   - kfake keeps the whole log in the Go heap of its process (about 1.75x
//     the message bytes); Options.DataDir adds persistence on disk.
//   - Both accept messages up to kafkaio.MaxMessageBytes (4 MiB), so events
//     over the contract's 1 MiB limit reach ingest and are rejected there.
package kafkalocal

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/secimpact/impact/internal/kafkaio"
)

// DefaultPartitions is the partition count of topics created without an
// explicit count: several, so consumer-group tests exercise more than one
// partition per topic.
const DefaultPartitions = 3

// Options configures an embedded cluster. The zero value is one broker on a
// random loopback port with no topics.
type Options struct {
	// Partitions per topic for Topics and for auto-created topics; default 3.
	Partitions int
	// Topics to create at start.
	Topics []string
	// DataDir, when set, persists the log there (kfake's DataDir option), so
	// a new cluster on the same directory sees the old messages and offsets.
	DataDir string
}

// Embedded is an in-process Kafka-protocol cluster.
type Embedded struct {
	c *kfake.Cluster
}

// StartEmbedded starts a kfake cluster of one broker on a free 127.0.0.1
// port. Close it when done.
func StartEmbedded(ctx context.Context, opts Options) (*Embedded, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	parts := opts.Partitions
	if parts <= 0 {
		parts = DefaultPartitions
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(parts),
		kfake.AllowAutoTopicCreation(),
		// As the real test broker: events over the contract's 1 MiB limit
		// must reach ingest to be rejected there with a reason.
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(kafkaio.MaxMessageBytes)}),
	}
	if len(opts.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(parts), opts.Topics...))
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	return &Embedded{c: c}, nil
}

// Brokers returns the bootstrap addresses (host:port) of the cluster.
func (e *Embedded) Brokers() []string { return e.c.ListenAddrs() }

// Cluster returns the underlying kfake cluster, for tests that inject faults.
func (e *Embedded) Cluster() *kfake.Cluster { return e.c }

// Close stops the cluster and closes its listeners. It always returns nil;
// the error is there so Embedded is an io.Closer like the real broker.
func (e *Embedded) Close() error {
	e.c.Close()
	return nil
}
