package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/protocol/produce"
)

// producer writes a round's messages (rounds.go) with one produce request
// per partition leader, every topic and partition of the round in it, on
// kafka-go's Transport (connections, TLS, SASL, the cluster's metadata).
// kafka-go's Writer sends one produce request per partition: a round of a
// busy gateway touches tens of partitions (a raw topic and a contract
// topic per source, each partitioned), and the broker's work grows with
// the requests, not the messages. Messages are partitioned as the Writer
// does (murmur2 of the key over the topic's partitions, the Java client's
// partitioner) and acknowledged by all in-sync replicas.
type producer struct {
	addr      net.Addr
	transport *kafka.Transport
	timeout   time.Duration // the broker's wait for the in-sync replicas

	writes, messages atomic.Int64
}

// ProduceStats counts the produce requests the gateway sent and the
// messages they carried, since the previous call to KafkaStats.
type ProduceStats struct {
	Requests int64
	Messages int64
}

func (p *producer) stats() ProduceStats {
	return ProduceStats{Requests: p.writes.Swap(0), Messages: p.messages.Swap(0)}
}

// attempt sends msgs once and returns each one's error, nil when all
// were acknowledged: the partitions' errors as Kafka sent them, or the
// error that kept a request from being answered. Retries are the caller's
// (rounds.go: temporary errors, in a later round).
func (p *producer) attempt(ctx context.Context, msgs []kafka.Message) []error {
	errs := make([]error, len(msgs))
	failed := false
	fail := func(idx []int, err error) {
		failed = true
		for _, i := range idx {
			errs[i] = err
		}
	}
	todo := make([]int, len(msgs))
	for i := range todo {
		todo[i] = i
	}
	// The topics' partitions and leaders, from the transport's cache of
	// the cluster's metadata (the view it routes requests by).
	var names []string
	seen := map[string]bool{}
	for _, i := range todo {
		if t := msgs[i].Topic; !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	r, err := p.transport.RoundTrip(ctx, p.addr, &metadata.Request{TopicNames: names, AllowAutoTopicCreation: true})
	if err != nil {
		fail(todo, fmt.Errorf("kafka metadata: %w", err))
		return errs
	}
	type part struct {
		topic     string
		partition int32
	}
	leaders := map[part]int32{}
	partitions := map[string][]int{}
	topicErr := map[string]error{}
	for _, t := range r.(*metadata.Response).Topics {
		if t.ErrorCode != 0 {
			topicErr[t.Name] = kafka.Error(t.ErrorCode)
			continue
		}
		ps := make([]int, 0, len(t.Partitions))
		for _, pt := range t.Partitions {
			ps = append(ps, int(pt.PartitionIndex))
			leaders[part{t.Name, pt.PartitionIndex}] = pt.LeaderID
		}
		sort.Ints(ps)
		partitions[t.Name] = ps
	}
	// Group by leader, topic and partition, in message order.
	type batch map[string]map[int32][]int // topic -> partition -> message indexes
	byLeader := map[int32]batch{}
	for _, i := range todo {
		m := &msgs[i]
		ps := partitions[m.Topic]
		if len(ps) == 0 {
			err := topicErr[m.Topic]
			if err == nil {
				err = kafka.UnknownTopicOrPartition
			}
			fail([]int{i}, fmt.Errorf("topic %s: %w", m.Topic, err))
			continue
		}
		pt := int32(kafka.Murmur2Balancer{}.Balance(*m, ps...))
		leader := leaders[part{m.Topic, pt}]
		if leader < 0 {
			fail([]int{i}, fmt.Errorf("topic %s partition %d: %w", m.Topic, pt, kafka.LeaderNotAvailable))
			continue
		}
		b := byLeader[leader]
		if b == nil {
			b = batch{}
			byLeader[leader] = b
		}
		if b[m.Topic] == nil {
			b[m.Topic] = map[int32][]int{}
		}
		b[m.Topic][pt] = append(b[m.Topic][pt], i)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &produce.Request{Acks: int16(kafka.RequireAll), Timeout: int32(p.timeout / time.Millisecond)}
			n := 0
			for topic, parts := range b {
				rt := produce.RequestTopic{Topic: topic}
				for pt, idx := range parts {
					recs := make([]kafka.Record, len(idx))
					for k, i := range idx {
						m := &msgs[i]
						recs[k] = kafka.Record{Time: m.Time, Key: kafka.NewBytes(m.Key), Value: kafka.NewBytes(m.Value), Headers: m.Headers}
					}
					n += len(idx)
					rt.Partitions = append(rt.Partitions, produce.RequestPartition{Partition: pt,
						RecordSet: protocol.RecordSet{Records: kafka.NewRecordReader(recs...)}})
				}
				req.Topics = append(req.Topics, rt)
			}
			p.writes.Add(1)
			p.messages.Add(int64(n))
			res, err := p.transport.RoundTrip(ctx, p.addr, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				for _, parts := range b {
					for _, idx := range parts {
						fail(idx, fmt.Errorf("kafka produce: %w", err))
					}
				}
				return
			}
			answered := map[part]bool{}
			for _, rt := range res.(*produce.Response).Topics {
				for _, rp := range rt.Partitions {
					idx := b[rt.Topic][rp.Partition]
					answered[part{rt.Topic, rp.Partition}] = true
					if rp.ErrorCode != 0 {
						fail(idx, fmt.Errorf("topic %s partition %d: %w", rt.Topic, rp.Partition, kafka.Error(rp.ErrorCode)))
						continue
					}
					for _, i := range idx {
						errs[i] = nil
					}
				}
			}
			for topic, parts := range b {
				for pt, idx := range parts {
					if !answered[part{topic, pt}] {
						fail(idx, fmt.Errorf("topic %s partition %d: no answer in the produce response", topic, pt))
					}
				}
			}
		}()
	}
	wg.Wait()
	if !failed {
		return nil
	}
	return errs
}

// temporary says whether a failed write may succeed if tried again: a
// Kafka error it calls temporary (no leader, not enough replicas, a timed
// out request, ...) or a connection failure.
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
