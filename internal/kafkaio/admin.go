package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
)

// Offsets maps topic -> partition -> offset.
type Offsets map[string]map[int]int64

// Admin answers partition and offset questions (end offsets, a group's
// committed offsets) for tests, drain checks and lag metrics.
//
// Why not kafka.Client alone: its Transport answers metadata requests from a
// cache refreshed every few seconds, so a topic created by another client is
// "unknown" to it for up to MetadataTTL. Admin reads partitions with a direct
// metadata request on a kafka.Conn instead, and uses the Client only for
// requests the broker answers from its own state.
type Admin struct {
	cfg    config.Kafka
	dialer *kafka.Dialer
	client *kafka.Client
}

// NewAdmin returns an Admin for the cluster at cfg.Brokers. Close it when done.
func NewAdmin(cfg config.Kafka) (*Admin, error) {
	d, err := Dialer(cfg)
	if err != nil {
		return nil, err
	}
	c, err := Client(cfg)
	if err != nil {
		return nil, err
	}
	return &Admin{cfg: cfg, dialer: d, client: c}, nil
}

// Client returns the underlying kafka-go client (same security settings).
func (a *Admin) Client() *kafka.Client { return a.client }

// Close releases idle connections.
func (a *Admin) Close() error {
	if tr, ok := a.client.Transport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	return nil
}

// PartitionInfo returns the partitions of topics straight from a broker (no
// cache). Topics that do not exist are reported as an error; note that
// kafka-go sends this metadata request with AllowAutoTopicCreation, so a
// broker with auto.create.topics.enable creates them instead.
func (a *Admin) PartitionInfo(ctx context.Context, topics []string) ([]kafka.Partition, error) {
	var errs []error
	for _, b := range a.cfg.Brokers {
		conn, err := a.dialer.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		parts, err := conn.ReadPartitions(topics...)
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("read partitions of %v from %s: %w", topics, b, err)
		}
		return parts, nil
	}
	return nil, fmt.Errorf("read partitions of %v: no broker reachable: %w", topics, errors.Join(errs...))
}

// Partitions returns the sorted partition ids of each topic.
func (a *Admin) Partitions(ctx context.Context, topics []string) (map[string][]int, error) {
	parts, err := a.PartitionInfo(ctx, topics)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]int, len(topics))
	for _, p := range parts {
		out[p.Topic] = append(out[p.Topic], p.ID)
	}
	for _, t := range topics {
		if len(out[t]) == 0 {
			return nil, fmt.Errorf("read partitions of %s: %w", t, kafka.UnknownTopicOrPartition)
		}
		sort.Ints(out[t])
	}
	return out, nil
}

// EndOffsets returns the end offset (the offset the next message will get,
// the high watermark) of every partition of topics. Transient errors (a new
// topic's leader not yet known to the broker answering) are retried for up
// to 10 s.
func (a *Admin) EndOffsets(ctx context.Context, topics []string) (Offsets, error) {
	return retry(ctx, func() (Offsets, error) { return a.endOffsets(ctx, topics) })
}

// CommittedOffsets returns the offsets group has committed on every
// partition of topics; -1 where it has committed none. Transient errors
// (coordinator loading) are retried for up to 10 s.
func (a *Admin) CommittedOffsets(ctx context.Context, group string, topics []string) (Offsets, error) {
	return retry(ctx, func() (Offsets, error) { return a.committedOffsets(ctx, group, topics) })
}

func retry(ctx context.Context, f func() (Offsets, error)) (Offsets, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := f()
		if err == nil || !Retriable(err) || time.Now().After(deadline) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-timeAfter(100):
		}
	}
}

func (a *Admin) endOffsets(ctx context.Context, topics []string) (Offsets, error) {
	parts, err := a.Partitions(ctx, topics)
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for t, ids := range parts {
		for _, id := range ids {
			req.Topics[t] = append(req.Topics[t], kafka.LastOffsetOf(id))
		}
	}
	resp, err := a.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %v: %w", topics, err)
	}
	out := Offsets{}
	for t, ps := range resp.Topics {
		out[t] = map[int]int64{}
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("list end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			out[t][p.Partition] = p.LastOffset
		}
	}
	return out, nil
}

func (a *Admin) committedOffsets(ctx context.Context, group string, topics []string) (Offsets, error) {
	parts, err := a.Partitions(ctx, topics)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets of group %s: %w", group, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("fetch committed offsets of group %s: %w", group, resp.Error)
	}
	out := Offsets{}
	for t, ps := range resp.Topics {
		out[t] = map[int]int64{}
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("fetch committed offset of group %s on %s/%d: %w", group, t, p.Partition, p.Error)
			}
			out[t][p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// CreateTopics creates topics with the given partition count (the broker's
// num.partitions when <= 0) and the broker's default replication factor,
// then waits until every partition has a leader. Topics that already exist
// are left as they are.
func (a *Admin) CreateTopics(ctx context.Context, topics []string, partitions int) error {
	if len(topics) == 0 {
		return nil
	}
	if partitions <= 0 {
		partitions = -1
	}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		// -1: the broker's default.replication.factor, so the same call
		// works on a one-node test broker and on a real cluster.
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1})
	}
	resp, err := a.client.CreateTopics(ctx, req)
	if err != nil {
		if perr := Ping(ctx, a.cfg); perr != nil {
			err = perr // the Transport hides the cause; the Dialer tells it
		}
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	for t, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, terr)
		}
	}
	return a.waitLeaders(ctx, topics)
}

// waitLeaders polls metadata until every partition of topics has a leader:
// Apache Kafka answers CreateTopics before the controller has elected
// leaders, and a produce in that window fails.
func (a *Admin) waitLeaders(ctx context.Context, topics []string) error {
	var last error
	for {
		parts, err := a.PartitionInfo(ctx, topics)
		last = err
		if err == nil {
			last = leadersReady(parts, topics)
			if last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leaders of %v: %w (last: %w)", topics, ctx.Err(), last)
		case <-timeAfter(100):
		}
	}
}

func leadersReady(parts []kafka.Partition, topics []string) error {
	seen := map[string]bool{}
	for _, p := range parts {
		if p.Error != nil {
			return fmt.Errorf("topic %s partition %d: %w", p.Topic, p.ID, p.Error)
		}
		if p.Leader.Host == "" || p.Leader.ID < 0 {
			return fmt.Errorf("topic %s partition %d: no leader yet", p.Topic, p.ID)
		}
		seen[p.Topic] = true
	}
	for _, t := range topics {
		if !seen[t] {
			return fmt.Errorf("topic %s: not in metadata yet", t)
		}
	}
	return nil
}

// DeleteTopics deletes topics; topics that do not exist are not an error.
func (a *Admin) DeleteTopics(ctx context.Context, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	resp, err := a.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("delete topics %v: %w", topics, err)
	}
	for t, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.UnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w", t, terr)
		}
	}
	return nil
}
