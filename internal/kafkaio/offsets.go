package kafkaio

import (
	"context"
	"fmt"
	"sort"

	"github.com/segmentio/kafka-go"
)

// Offsets maps topic -> partition -> offset.
type Offsets map[string]map[int]int64

// Partitions returns the partition ids of each topic as the broker's metadata
// lists them, sorted.
func Partitions(ctx context.Context, client *kafka.Client, topics []string) (map[string][]int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata of %v: %w", topics, err)
	}
	out := make(map[string][]int, len(md.Topics))
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of topic %s: %w", t.Name, t.Error)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		sort.Ints(ids)
		out[t.Name] = ids
	}
	return out, nil
}

// EndOffsets returns the end offset (the offset the next message will get,
// the high watermark) of every partition of topics.
func EndOffsets(ctx context.Context, client *kafka.Client, topics []string) (Offsets, error) {
	parts, err := Partitions(ctx, client, topics)
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for t, ids := range parts {
		for _, id := range ids {
			req.Topics[t] = append(req.Topics[t], kafka.LastOffsetOf(id))
		}
	}
	resp, err := client.ListOffsets(ctx, req)
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

// CommittedOffsets returns the offsets group has committed on every
// partition of topics; -1 where it has committed none.
func CommittedOffsets(ctx context.Context, client *kafka.Client, group string, topics []string) (Offsets, error) {
	parts, err := Partitions(ctx, client, topics)
	if err != nil {
		return nil, err
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
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
