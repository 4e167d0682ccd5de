// Package kafkalocal runs Kafka for tests and the demo: an embedded
// Kafka-protocol cluster (franz-go's kfake) inside the process, and a real
// Apache Kafka broker (KRaft, single node) started from Maven-fetched jars by
// scripts/kafka-broker.sh.
//
// Both listen on free loopback ports only; kafka-go talks to either over TCP.
//
// kfake limitations seen with kafka-go v0.4.51 (see embedded_test.go):
//   - kfake keeps everything in memory unless DataDir is set; a restart of
//     the process loses the log, so it suits tests and the demo, not backfills.
//   - kafka-go's ConsumerGroup speaks the classic group protocol (JoinGroup
//     v1/v2, SyncGroup, Heartbeat, OffsetCommit v2, OffsetFetch v1); kfake
//     accepts these versions. It does not enforce group.initial.rebalance.delay,
//     so a group forms at once.
//   - Messages up to kafkaio.MaxMessageBytes (4 MiB) are accepted, as on the
//     real test broker (both default to 1 MiB otherwise).
//   - Topics are auto-created on metadata requests only because StartEmbedded
//     turns AllowAutoTopicCreation on (kfake's default is off, unlike a
//     default Apache Kafka broker); kafka-go's Writer relies on that when
//     AllowAutoTopicCreation is set, but tests should create their topics
//     with CreateTopics so partition counts are explicit.
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
