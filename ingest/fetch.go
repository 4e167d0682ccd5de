package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Fetching: every byte fetched counts against the memory budget, however
// many partitions are assigned.
//
// The memory budget (Config.MemoryBudget) is two semaphores:
//   - the fetch share (1/fetchShareDiv of it): before every fetch request a
//     partition reader reserves the most that request can bring into the
//     process, and releases it when the fetched batch is processed (each
//     partition fetches its next batch while processing one). When the
//     share is used up, partitions take turns; they never prefetch beyond it
//     (kafka-go's Reader, used before, queued up to 256 messages per
//     partition outside any budget: 950 kB events on 3 partitions reached
//     930 MB RSS);
//   - the rest: each message taken out of a fetch is charged (charge) until
//     its rows are in ClickHouse.
//
// A fetch request asks for at most fetchBytes, but a broker returns the
// first record batch whole even when it is larger (KIP-74), and kafka-go
// decompresses a compressed batch in memory; the reservation is therefore
// max(fetchBytes, the largest batch the source topics accept), and bytes
// read beyond it are forced onto the share (later fetches wait for them).
// A batch larger than the whole share is fetched alone.

const (
	// fetchShareDiv: an eighth of the memory budget is for fetch
	// responses (fetching is fast; the rest is worth more as batches).
	fetchShareDiv = 8
	// minFetchBytes is the smallest fetch request size.
	minFetchBytes = 64 << 10
	// fetchMaxWait is how long a fetch waits at the broker for data.
	fetchMaxWait = 250 * time.Millisecond
	// readBatchTimeout bounds the wait for the next message of a batch.
	readBatchTimeout = 10 * time.Second
	// fetchExpansion is how many times its size on the wire a fetched
	// batch holds in memory until processed: kafka-go reads the response
	// whole, decompresses its record batches and copies every message out
	// (measured: about 3x for LZ4-compressed events).
	fetchExpansion = 3
)

// fetchShare is the part of budget for fetch responses: an eighth, but a
// quarter of a small budget (up to 8 MiB), as a fetch may bring a whole
// record batch of up to max.message.bytes (1 MiB by default) beyond its
// reservation.
func fetchShare(budget int64) int64 {
	return max(budget/fetchShareDiv, min(budget/4, 8<<20))
}

// fetchPlan is how one generation's partition readers fetch.
type fetchPlan struct {
	maxBytes int   // max bytes of one fetch request
	reserve  int64 // budget reserved for one fetch
}

// planFetch splits the fetch share between nparts partitions. batchMax is
// the largest record batch the source topics accept (max.message.bytes).
func planFetch(share int64, nparts, fetchMax, batchMax int) fetchPlan {
	per := share / int64(max(nparts, 1))
	maxBytes := int(min(max(per/fetchExpansion, minFetchBytes), int64(fetchMax)))
	reserve := min(fetchExpansion*max(int64(maxBytes), int64(batchMax)), share)
	return fetchPlan{maxBytes: maxBytes, reserve: reserve}
}

// fetchedBatch is the messages of one fetch and the fetch share they hold
// until processed.
type fetchedBatch struct {
	msgs     []kafka.Message
	reserved int64
}

// read consumes one assigned partition until the generation ends. A fetch
// goroutine fetches the next batch while this one processes the current
// one (at most two batches per partition, each under its reservation of the
// fetch share).
func (in *Ingester) read(ctx context.Context, i int, p assignment, plan fetchPlan) {
	pr := partitionReader{in: in, i: i, p: p, plan: plan, offset: p.offset,
		bl: builder{dec: in.decoder, dlqLimit: in.dlqLimit}, st: newStaged()}
	pr.consumed = in.m.consumed.WithLabelValues(p.topic)
	defer pr.push() // what was processed is added to the sink, whatever happens
	batches := make(chan fetchedBatch, 1)
	fetchCtx, stop := context.WithCancel(ctx)
	go func() {
		defer close(batches)
		defer pr.close()
		pr.fetchLoop(fetchCtx, batches)
	}()
	defer func() {
		stop()
		for b := range batches { // whatever was fetched but not processed
			in.fetch.release(b.reserved)
		}
	}()
	for b := range batches {
		ok := true
		pr.now = time.Now().UTC().Truncate(time.Second)
		for k := range b.msgs {
			if ok = pr.process(ctx, &b.msgs[k]); !ok {
				break
			}
		}
		pr.push()
		in.fetch.release(b.reserved)
		if !ok {
			return
		}
	}
}

// fetchLoop fetches batches into out until ctx ends, reconnecting after
// errors.
func (pr *partitionReader) fetchLoop(ctx context.Context, out chan<- fetchedBatch) {
	in, p, plan := pr.in, pr.p, pr.plan
	bo := backoff{min: in.cfg.BackoffMin, max: min(in.cfg.BackoffMax, 5*time.Second)}
	for ctx.Err() == nil {
		if pr.conn == nil {
			if err := pr.dial(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				d := bo.next()
				in.m.retries.WithLabelValues("fetch").Inc()
				in.log.Warn("connect to partition leader failed; retrying", "topic", p.topic, "partition", p.partition, "err", err, "retry_in", d)
				if sleep(ctx, d) != nil {
					return
				}
				continue
			}
		}
		var err error
		if pr.idle {
			// Caught up: wait for new data outside the fetch share, so idle
			// partitions do not hold it with long polls.
			err = pr.waitForData(ctx)
		}
		if err == nil {
			if in.fetch.acquire(ctx, plan.reserve) != nil {
				return
			}
			var b fetchedBatch
			b, err = pr.readBatch()
			if len(b.msgs) == 0 {
				in.fetch.release(b.reserved)
			} else {
				select {
				case out <- b:
				case <-ctx.Done():
					in.fetch.release(b.reserved)
					return
				}
			}
		}
		switch {
		case err == nil, errors.Is(err, kafka.RequestTimedOut):
			bo.reset()
		case ctx.Err() != nil:
			return
		default:
			// Leader moved, offset out of range, broken connection, ...:
			// reconnect (dial re-resolves the leader and the offset range).
			pr.close()
			d := bo.next()
			in.m.retries.WithLabelValues("fetch").Inc()
			in.log.Warn("fetch failed; reconnecting", "topic", p.topic, "partition", p.partition, "offset", pr.offset, "err", err, "retry_in", d)
			if sleep(ctx, d) != nil {
				return
			}
		}
	}
}

// partitionReader is the fetch state of one assigned partition.
type partitionReader struct {
	in        *Ingester
	i         int
	p         assignment
	plan      fetchPlan
	conn      *kafka.Conn
	offset    int64 // next offset to fetch, or kafka.FirstOffset
	idle      bool  // the last fetch found nothing new
	lastCount int   // messages in the last fetch: the next one's capacity
	bl        builder
	st        *staged   // rows built and not yet added to the sink
	now       time.Time // ingested_at of the rows being built
	consumed  prometheus.Counter
}

func (pr *partitionReader) close() {
	if pr.conn != nil {
		pr.conn.Close()
		pr.conn = nil
	}
}

// dial connects to the partition's leader and positions the connection at
// the next offset: the first offset when nothing was committed, or when
// the committed offset was deleted by retention (logged: those messages
// were never stored).
func (pr *partitionReader) dial(ctx context.Context) error {
	in, p := pr.in, pr.p
	var errs []error
	for _, b := range in.cfg.Kafka.Brokers {
		conn, err := in.dialer.DialLeader(ctx, "tcp", b, p.topic, p.partition)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		first, last, err := conn.ReadOffsets()
		if err != nil {
			conn.Close()
			return fmt.Errorf("read offsets of %s/%d: %w", p.topic, p.partition, err)
		}
		switch {
		case pr.offset < 0:
			pr.offset = first
		case pr.offset < first:
			in.log.Error("committed offset was deleted by retention; skipping to the first offset (those messages were never stored)",
				"topic", p.topic, "partition", p.partition, "offset", pr.offset, "first", first, "skipped", first-pr.offset)
			pr.offset = first
		}
		in.progress.start(pr.i, pr.offset, last)
		if _, err := conn.Seek(pr.offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			conn.Close()
			return fmt.Errorf("seek %s/%d to %d: %w", p.topic, p.partition, pr.offset, err)
		}
		_ = conn.SetDeadline(time.Time{})
		pr.conn = conn
		return nil
	}
	return fmt.Errorf("dial leader of %s/%d: %w", p.topic, p.partition, errors.Join(errs...))
}

// readBatch sends one fetch request and reads the whole answer off the
// connection (so neither the socket nor the broker waits while messages
// are processed). The batch holds the reservation plus any bytes read
// beyond it (forced onto the fetch share).
func (pr *partitionReader) readBatch() (fetchedBatch, error) {
	in := pr.in
	conn := pr.conn
	b := fetchedBatch{reserved: pr.plan.reserve, msgs: make([]kafka.Message, 0, pr.lastCount)}
	_ = conn.SetReadDeadline(time.Now().Add(fetchMaxWait))
	batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: pr.plan.maxBytes})
	hwm := batch.HighWaterMark()
	in.progress.highWater(pr.i, hwm)
	var read int64
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readBatchTimeout))
		msg, err := batch.ReadMessage()
		if err != nil {
			break
		}
		n := int64(len(msg.Key) + len(msg.Value))
		for _, h := range msg.Headers {
			n += int64(len(h.Key) + len(h.Value))
		}
		if read += n; read > b.reserved {
			in.fetch.force(read - b.reserved)
			b.reserved = read
		}
		b.msgs = append(b.msgs, msg)
		pr.offset = msg.Offset + 1
	}
	err := batch.Close()
	if end := batch.Offset(); end > pr.offset {
		pr.offset = end // past control records
	}
	_ = conn.SetReadDeadline(time.Time{})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	pr.lastCount = len(b.msgs)
	pr.idle = read == 0 && (err == nil || errors.Is(err, kafka.RequestTimedOut)) && hwm <= pr.offset
	return b, err
}

// waitForData polls the partition's end offset (a small request, no fetch
// reservation) until there is something past the next offset.
func (pr *partitionReader) waitForData(ctx context.Context) error {
	for {
		_ = pr.conn.SetDeadline(time.Now().Add(10 * time.Second))
		last, err := pr.conn.ReadLastOffset()
		_ = pr.conn.SetDeadline(time.Time{})
		if err != nil {
			return fmt.Errorf("read end offset: %w", err)
		}
		pr.in.progress.highWater(pr.i, last)
		if last > pr.offset {
			pr.idle = false
			return nil
		}
		if err := sleep(ctx, fetchMaxWait); err != nil {
			return err
		}
	}
}

// stageMessages is how many messages a partition reader decodes before it
// adds their rows to the sink's batches (at the latest; also at the end of
// every fetched batch): a few hundred amortise the sink's lock and keep
// the staged rows small.
const stageMessages = 512

// process charges msg to the memory budget, decodes it and stages its rows
// for the sink. It returns false when ctx ended first (msg not staged, so
// not committed: the next owner reads it again).
func (pr *partitionReader) process(ctx context.Context, msg *kafka.Message) bool {
	in := pr.in
	n := in.budget.clamp(charge(msg))
	if !in.budget.tryAcquire(n) {
		// The staged rows may be what the budget waits for: hand them to
		// the sink (whose memory-pressure flush stores them) first.
		pr.push()
		if in.budget.acquire(ctx, n) != nil {
			return false
		}
		pr.now = time.Now().UTC().Truncate(time.Second)
	}
	if in.firstFetch.Load() == 0 {
		in.firstFetch.CompareAndSwap(0, time.Now().UnixNano())
	}
	if reason := pr.bl.build(pr.st, msg, n, pr.now); reason != "" {
		in.m.rejected.WithLabelValues(reason).Inc()
	}
	if pr.st.msgs >= stageMessages {
		pr.push()
	}
	return true
}

// push adds the staged rows to the sink.
func (pr *partitionReader) push() {
	n := pr.st.msgs
	if n == 0 {
		return
	}
	pr.in.sink.add(pr.i, pr.st)
	pr.consumed.Add(float64(n))
	pr.in.consumed.Add(int64(n))
}
