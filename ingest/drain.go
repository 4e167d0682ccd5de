package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
)

// drainTarget is, per topic and partition, the end offset at start and
// whether the partition had anything to consume then.
type drainTarget map[string]map[int]partTarget

type partTarget struct {
	first, end int64
}

// drainTarget records the first and end offsets of every partition of the
// source topics when Run starts. Drain mode is done when the group has
// committed, on every partition that had messages then, an offset at or
// past that end: everything present at start is stored in ClickHouse (or
// the DLQ) and will not be read again by this group.
func (in *Ingester) drainTarget(ctx context.Context, admin *kafkaio.Admin) (drainTarget, error) {
	client := admin.Client()
	parts, err := admin.Partitions(ctx, in.topics)
	if err != nil {
		return nil, fmt.Errorf("ingest: drain: %w", err)
	}
	list := func(ts int64) (map[string][]kafka.PartitionOffsets, error) {
		req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
		for t, ids := range parts {
			for _, id := range ids {
				req.Topics[t] = append(req.Topics[t], kafka.OffsetRequest{Partition: id, Timestamp: ts})
			}
		}
		resp, err := client.ListOffsets(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("ingest: drain: list offsets: %w", err)
		}
		return resp.Topics, nil
	}
	// Two requests: brokers refuse a partition listed twice in one.
	firsts, err := list(kafka.FirstOffset)
	if err != nil {
		return nil, err
	}
	ends, err := list(kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	target := drainTarget{}
	for t, ids := range parts {
		target[t] = map[int]partTarget{}
		for _, id := range ids {
			target[t][id] = partTarget{first: -1, end: -1}
		}
	}
	for t, ps := range firsts {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("ingest: drain: first offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			pt := target[t][p.Partition]
			pt.first = p.FirstOffset
			target[t][p.Partition] = pt
		}
	}
	for t, ps := range ends {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("ingest: drain: end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			pt := target[t][p.Partition]
			pt.end = p.LastOffset
			target[t][p.Partition] = pt
		}
	}
	for t, ps := range target {
		for id, pt := range ps {
			if pt.first < 0 || pt.end < 0 {
				return nil, fmt.Errorf("ingest: drain: no offsets listed for %s/%d", t, id)
			}
		}
	}
	return target, nil
}

// drainTargetRetry is drainTarget, retried while the broker answers with
// transient errors (a new topic's leader not yet known: NotLeaderForPartition)
// for up to 30 s.
func (in *Ingester) drainTargetRetry(ctx context.Context, admin *kafkaio.Admin) (drainTarget, error) {
	bo := backoff{min: in.cfg.BackoffMin, max: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		target, err := in.drainTarget(ctx, admin)
		if err == nil || !kafkaio.Retriable(err) || time.Now().After(deadline) {
			return target, err
		}
		d := bo.next()
		in.log.Warn("drain: listing offsets failed; retrying", "err", err, "retry_in", d)
		if err := sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("ingest: drain: %w", err)
		}
	}
}

// caughtUp reports whether committed reaches target everywhere, and how
// many partitions are still behind.
func (target drainTarget) caughtUp(committed kafkaio.Offsets) (bool, int) {
	behind := 0
	for t, ps := range target {
		for id, pt := range ps {
			if pt.end <= pt.first {
				continue // empty at start
			}
			c, ok := committed[t][id]
			if !ok || c < pt.end {
				behind++
			}
		}
	}
	return behind == 0, behind
}

// waitDrained polls the group's committed offsets until they reach target.
func (in *Ingester) waitDrained(ctx context.Context, admin *kafkaio.Admin, target drainTarget) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		committed, err := admin.CommittedOffsets(ctx, in.cfg.GroupID, in.topics)
		if err != nil {
			in.log.Debug("drain: fetch committed offsets", "err", err)
			continue
		}
		if ok, _ := target.caughtUp(committed); ok {
			return nil
		}
	}
}

// drainTail flushes the batches being filled as soon as every partition
// reader of the generation has processed all it fetched up to the high
// watermark: in drain mode nothing more is awaited, and waiting out
// FlushAge would only delay the exit (about a second of an otherwise idle
// tail per drain). Not outside drain mode: there a trickle of events would
// be an INSERT, and a part in every table, per poll.
type drainTail struct {
	readers int64 // partition readers in the generation
	caught  atomic.Int64
	flush   func()
}

// mark records that a reader is (or is no longer) caught up.
func (t *drainTail) mark(caughtUp bool) {
	if !caughtUp {
		t.caught.Add(-1)
		return
	}
	if t.caught.Add(1) == t.readers {
		t.flush()
	}
}
