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
// A batch larger than the whole share is fetched alone. A batch that
// decompresses past the decompression limit is skipped and rejected
// (decompress.go, skipBatch).

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
	// skip, when not nil, is a record batch after msgs that was skipped
	// (ErrBatchTooLarge): its reject is staged after them.
	skip *skippedBatch
	// caughtUp: the fetch reached the partition's high watermark.
	caughtUp bool
}

// skippedBatch is the offset range of a record batch skipped because it
// decompresses past limit bytes.
type skippedBatch struct {
	first, last int64
	limit       int64
}

// read consumes one assigned partition until the generation ends. A fetch
// goroutine fetches the next batch while this one processes the current
// one (at most two batches per partition, each under its reservation of the
// fetch share).
func (in *Ingester) read(ctx context.Context, i int, p assignment, plan fetchPlan, tail *drainTail) {
	pr := partitionReader{in: in, i: i, p: p, plan: plan, offset: p.offset, tail: tail,
		bl: builder{dec: in.decoder, dlqLimit: in.dlqLimit}, st: newStaged(),
		spare: make(chan []kafka.Message, 2)}
	caught := false // what this reader last reported to tail
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
		if ok && b.skip != nil {
			ok = pr.processSkip(ctx, b.skip)
		}
		pr.push()
		in.fetch.release(b.reserved)
		pr.recycle(b.msgs)
		if !ok {
			return
		}
		if pr.tail != nil && b.caughtUp != caught {
			caught = b.caughtUp
			pr.tail.mark(caught)
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
			if errors.Is(err, ErrBatchTooLarge) {
				// Find the batch's end now, under the reservation of the
				// messages before it (the probes stay within it).
				b.skip, err = pr.skipBatch(ctx)
			}
			// An empty fetch is passed on only to report, after the batches
			// before it, that the partition is caught up (drain mode).
			if len(b.msgs) == 0 && b.skip == nil && !(b.caughtUp && pr.tail != nil) {
				in.fetch.release(b.reserved)
				pr.recycle(b.msgs)
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
	tail      *drainTail // nil unless drain mode
	// spare holds emptied message slices of processed batches for the
	// next fetches (at most two batches of a partition are in flight): a
	// fresh slice per fetch was a tenth of the bytes ingest allocated.
	spare chan []kafka.Message
}

// recycle keeps the processed messages' slice for a later fetch, emptied
// so that it holds no message bytes.
func (pr *partitionReader) recycle(msgs []kafka.Message) {
	if cap(msgs) == 0 {
		return
	}
	clear(msgs)
	select {
	case pr.spare <- msgs[:0]:
	default:
	}
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
	conn, first, last, err := pr.dialLeader(ctx)
	if err != nil {
		return err
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
	pr.conn = conn
	return nil
}

// dialLeader connects to the partition's leader and reads its first and
// end offsets.
func (pr *partitionReader) dialLeader(ctx context.Context) (conn *kafka.Conn, first, last int64, err error) {
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
		_ = conn.SetDeadline(time.Time{})
		if err != nil {
			conn.Close()
			return nil, 0, 0, fmt.Errorf("read offsets of %s/%d: %w", p.topic, p.partition, err)
		}
		return conn, first, last, nil
	}
	return nil, 0, 0, fmt.Errorf("dial leader of %s/%d: %w", p.topic, p.partition, errors.Join(errs...))
}

// readBatch sends one fetch request and reads the whole answer off the
// connection (so neither the socket nor the broker waits while messages
// are processed). The batch holds the reservation plus any bytes read
// beyond it (forced onto the fetch share).
func (pr *partitionReader) readBatch() (fetchedBatch, error) {
	in := pr.in
	conn := pr.conn
	b := fetchedBatch{reserved: pr.plan.reserve}
	select {
	case b.msgs = <-pr.spare:
	default:
		b.msgs = make([]kafka.Message, 0, pr.lastCount)
	}
	_ = conn.SetReadDeadline(time.Now().Add(fetchMaxWait))
	batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: pr.plan.maxBytes})
	hwm := batch.HighWaterMark()
	in.progress.highWater(pr.i, hwm)
	var read int64
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readBatchTimeout))
		msg, err := batch.ReadMessage()
		if err != nil {
			if errors.Is(err, ErrBatchTooLarge) {
				// The rest of the response is unreadable: close now, or
				// Close below waits out the deadline for it.
				conn.Close()
			}
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
	b.caughtUp = (err == nil || errors.Is(err, kafka.RequestTimedOut)) && hwm >= 0 && hwm <= pr.offset
	return b, err
}

// linearProbes bounds the offset-by-offset search for a failed batch's
// end (each probe fetches the batch again and decompresses it up to the
// limit: 5-20 ms a probe in TestZipBombSkipped).
const linearProbes = 256

// skipBatch handles a fetch that failed with ErrBatchTooLarge: the record
// batch at pr.offset decompresses past the limit. It finds the batch's
// last offset and moves pr.offset past it; the returned range is staged
// as a reject (processSkip), so it is committed past only once stored.
//
// kafka-go does not say where the failed batch ends (its header is read
// and dropped), so the end is searched for: a fetch at any offset inside
// the batch returns the whole batch again (and fails again), a fetch past
// it does not. The reader probes offset by offset, up to linearProbes of
// them: the first offset whose fetch does not fail ends the batch exactly,
// whatever follows it (another such batch after a valid record is found
// by the next skip). Only a batch of more records than that is searched
// with doubling steps and a binary search, where a second failing batch
// with valid records between the two could be taken into the same range
// (recorded as rejected, not stored). Each probe is a small fetch whose
// decompression stops at the limit; a one-record bomb costs one probe.
func (pr *partitionReader) skipBatch(ctx context.Context) (*skippedBatch, error) {
	in, p := pr.in, pr.p
	pr.close() // kafka-go closed it: the rest of the response is unread
	start := time.Now()
	first := pr.offset
	_, _, end, err := pr.probeConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("find the end of the record batch at %s/%d:%d: %w", p.topic, p.partition, first, err)
	}
	lo, hi := first, int64(-1) // the fetch at lo fails, the one at hi does not
	probes := 0
	// probeAt fetches at o and moves lo or hi there; an offset at or past
	// the end holds nothing (not the batch).
	probeAt := func(o int64) error {
		if o >= end {
			hi = end
			return nil
		}
		probes++
		fails, err := pr.probe(ctx, o)
		if err != nil {
			return fmt.Errorf("find the end of the record batch at %s/%d:%d: %w", p.topic, p.partition, first, err)
		}
		if fails {
			lo = o
		} else {
			hi = o
		}
		return nil
	}
	for o := first + 1; hi < 0 && o <= first+linearProbes; o++ {
		if err := probeAt(o); err != nil {
			return nil, err
		}
	}
	for step := int64(1); hi < 0; step *= 2 {
		if err := probeAt(lo + step); err != nil {
			return nil, err
		}
	}
	for hi-lo > 1 {
		if err := probeAt(lo + (hi-lo)/2); err != nil {
			return nil, err
		}
	}
	limit := codecLimit.Load()
	in.log.Error("record batch decompresses past the limit; skipped and recorded in ingest_rejects (rule "+RuleBatchTooLarge+")",
		"topic", p.topic, "partition", p.partition, "first_offset", first, "last_offset", lo,
		"limit", limit, "probes", probes, "took", time.Since(start).Round(time.Millisecond))
	pr.offset = lo + 1
	if pr.conn != nil { // the probes moved it
		if _, err := pr.conn.Seek(pr.offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			pr.close()
		}
	}
	return &skippedBatch{first: first, last: lo, limit: limit}, nil
}

// probeConn returns the connection for probes (dialling it if needed) and
// the partition's first and end offsets.
func (pr *partitionReader) probeConn(ctx context.Context) (conn *kafka.Conn, first, last int64, err error) {
	if pr.conn != nil {
		_ = pr.conn.SetDeadline(time.Now().Add(10 * time.Second))
		first, last, err = pr.conn.ReadOffsets()
		_ = pr.conn.SetDeadline(time.Time{})
		if err != nil {
			pr.close()
			return nil, 0, 0, fmt.Errorf("read offsets: %w", err)
		}
		return pr.conn, first, last, nil
	}
	conn, first, last, err = pr.dialLeader(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	pr.conn = conn
	return conn, first, last, nil
}

// probe reports whether a small fetch at offset fails with
// ErrBatchTooLarge.
func (pr *partitionReader) probe(ctx context.Context, offset int64) (bool, error) {
	conn := pr.conn
	if conn == nil {
		var err error
		if conn, _, _, err = pr.probeConn(ctx); err != nil {
			return false, err
		}
	}
	if _, err := conn.Seek(offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		pr.close()
		return false, fmt.Errorf("seek to %d: %w", offset, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(fetchMaxWait))
	batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: minFetchBytes})
	_ = conn.SetReadDeadline(time.Now().Add(readBatchTimeout))
	_, err := batch.ReadMessage()
	if errors.Is(err, ErrBatchTooLarge) {
		conn.Close() // as in readBatch
	}
	cerr := batch.Close()
	_ = conn.SetReadDeadline(time.Time{})
	switch {
	case errors.Is(err, ErrBatchTooLarge) || errors.Is(cerr, ErrBatchTooLarge):
		pr.close()
		return true, nil
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, kafka.RequestTimedOut):
		return false, nil
	default:
		pr.close()
		return false, fmt.Errorf("fetch at %d: %w", offset, err)
	}
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

// processSkip stages the reject of a skipped record batch, like process
// does a message's: the batch's range is committed past once it is stored
// (and in the dead-letter topic).
func (pr *partitionReader) processSkip(ctx context.Context, sk *skippedBatch) bool {
	in := pr.in
	n := int64(rowOverhead)
	if !in.budget.tryAcquire(n) {
		pr.push()
		if in.budget.acquire(ctx, n) != nil {
			return false
		}
		pr.now = time.Now().UTC().Truncate(time.Second)
	}
	pr.bl.rejectBatch(pr.st, pr.p.topic, pr.p.partition, sk, n, pr.now)
	in.m.rejected.WithLabelValues(RuleBatchTooLarge).Inc()
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
