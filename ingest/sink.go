package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/schemas"
)

// batch is the rows of one table waiting for one INSERT, in chunks of
// about chunkBytes (see schemas.Blocks): full chunks are never copied
// again, and inserted chunks are reused by the table's next batches.
type batch struct {
	chunks schemas.Blocks
	rows   int
	last   int64 // budget bytes charged to the last chunk
	bytes  int64 // budget bytes charged to this batch
	born   time.Time
	// first[p] is the lowest Kafka offset of partition index p with a row
	// in this batch, -1 when none: what keeps that partition's commit back.
	first []int64
	// dlq holds the dead-letter messages of a rejects batch, one per row;
	// they are produced (acks=all) before the rows are inserted.
	dlq     []kafka.Message
	dlqDone bool
}

// chunkBytes is about the budget bytes of rows one chunk of a batch
// holds: the size of the Native blocks an INSERT sends, and small enough
// that reused chunks fit every table's batches.
const chunkBytes = 1 << 20

// reset empties b for reuse; its chunks must have been taken (sink.recycle).
func (b *batch) reset(nparts int) {
	b.chunks = b.chunks[:0]
	b.rows, b.last = 0, 0
	b.bytes = 0
	b.born = time.Time{}
	if cap(b.first) < nparts {
		b.first = make([]int64, nparts)
	}
	b.first = b.first[:nparts]
	for i := range b.first {
		b.first[i] = -1
	}
	clear(b.dlq)
	b.dlq = b.dlq[:0]
	b.dlqDone = false
}

// table is one ClickHouse table's batching state. Batches are flushed in
// order by one flusher goroutine per table, so tables insert concurrently.
type table struct {
	t     *schemas.Table
	name  string
	cur   *batch           // being filled
	queue []*batch         // detached, queue[0] is being inserted
	free  []*schemas.Block // chunks of stored batches, reused (their buffers' bytes in sink.pooled)
	spare []*batch         // emptied batches, reused
	wake  chan struct{}
}

// The chunks of stored batches are kept for reuse: a chunk dropped is
// garbage, and a new one is allocated for the next batch. All tables'
// pools together hold at most what the memory budget has free (at least
// a sixteenth of it; defaultPoolBytes without a budget), so that chunks in
// batches and in pools stay within about the budget: the rows a message
// is charged for are at most its charge (TestChargeCoversMemory). A fixed
// quarter of the budget (the earlier rule) dropped about three in four
// chunks of a backlog, whose batches hold most of the budget, and pools of
// a fixed half or the whole budget on top of the batches made the garbage
// collector run near the soft memory limit all the time (2M-event bench:
// 100, 217-228 collections against 82 with a quarter).
const defaultPoolBytes = 64 << 20

// poolLimit is the most the batch pools may hold now: the budget not in
// use, counting releasing bytes (a stored batch's) as free, at least a
// sixteenth of it. Called with mu held.
func (s *sink) poolLimit(releasing int64) int {
	if s.budget == nil {
		return defaultPoolBytes
	}
	free := s.budget.cap - s.budget.inUse() + releasing
	return int(max(free, s.budget.cap/16))
}

// trimPools drops pooled chunks, from the tables' pools in turn, until the
// pools hold at most limit bytes. Called with mu held.
func (s *sink) trimPools(limit int) {
	for s.pooled > limit {
		dropped := false
		for _, t := range s.order {
			if n := len(t.free); n > 0 && s.pooled > limit {
				s.pooled -= t.free[n-1].CapBytes()
				t.free[n-1] = nil
				t.free = t.free[:n-1]
				dropped = true
			}
		}
		if !dropped {
			return
		}
	}
}

// flushFunc writes one batch of t; it returns only when the batch is
// stored (it retries internally) or ctx is done.
type flushFunc func(ctx context.Context, t *table, b *batch) error

// sink batches rows per table and, through offsets, tracks which offsets
// of each assigned partition are fully stored. All fields are guarded by
// mu; the work done under mu is appending a reader's staged column buffers
// to the batches.
type sink struct {
	mu      sync.Mutex
	tables  []*table // by schemas table index; nil until a row arrives
	order   []*table // the tables created, in order of creation
	nparts  int
	offsets offsets

	budget     *budget
	batchRows  int
	batchBytes int64
	pendingCur int64 // bytes in cur batches, for the memory-pressure flush
	pooled     int   // buffer bytes of the chunks in the tables' pools
	changed    chan struct{}
	flush      flushFunc
	wg         sync.WaitGroup
	started    bool
	ctx        context.Context // the flushers' context, for tables seen later
}

func newSink(b *budget, rows int, bytes int64, flush flushFunc) *sink {
	return &sink{
		budget:     b,
		batchRows:  rows,
		batchBytes: bytes,
		changed:    make(chan struct{}),
		flush:      flush,
	}
}

// start launches the flushers; they run until ctx is done.
func (s *sink) start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	for _, t := range s.order {
		s.startFlusher(ctx, t)
	}
	s.ctx = ctx
}

// reset prepares for a new generation of nparts partitions. The sink must
// be empty (after a barrier).
func (s *sink) reset(nparts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nparts = nparts
	s.offsets.reset(nparts)
	for _, t := range s.order {
		if t.cur != nil {
			t.cur.reset(nparts)
		}
		for _, b := range t.spare {
			b.reset(nparts)
		}
	}
}

// add appends the staged rows of partition index p to the batches and
// empties st. The rows' budget bytes must have been acquired. It never
// blocks.
func (s *sink) add(p int, st *staged) {
	if st.msgs == 0 {
		return
	}
	s.mu.Lock()
	for i, blk := range st.rows.Blocks() {
		if blk.Len() == 0 {
			continue
		}
		t := s.table(i, blk.Table(), len(st.rows.Blocks()))
		b := t.cur
		if b == nil {
			b = s.newBatch(t)
			t.cur = b
			b.born = time.Now()
		}
		s.appendRows(t, b, blk, st.bytes[i])
		s.pendingCur += st.bytes[i]
		if blk.Table() == schemas.IngestRejects {
			b.dlq = append(b.dlq, st.dlq...)
		}
		if b.first[p] < 0 {
			b.first[p] = st.first[i]
			s.offsets.hold(p, st.first[i])
		}
		if b.rows >= s.batchRows || b.bytes >= s.batchBytes {
			s.detach(t)
		}
	}
	s.offsets.read(p, st.next)
	// Under memory pressure (three quarters of the budget in batches being
	// filled) flush early rather than have fetch wait a whole FlushAge for
	// batches that are not full: the largest batches first, until a
	// quarter of the budget is pending. Flushing every table would insert
	// the small tables' few rows each time, and every INSERT makes a part
	// that ClickHouse merges later: server CPU (2M-event bench, load 8-10:
	// 55.6 CPU-s flushing everything at half the budget, 36.4 the largest
	// first, 30.9 at three quarters).
	if s.budget != nil && s.pendingCur >= s.budget.cap*3/4 {
		s.relieve(s.budget.cap / 4)
	}
	s.mu.Unlock()
	st.reset()
}

// relieve detaches the largest current batches until at most target
// bytes are pending. Called with mu held.
func (s *sink) relieve(target int64) {
	for s.pendingCur > target {
		var big *table
		for _, t := range s.order {
			if t.cur != nil && t.cur.rows > 0 && (big == nil || t.cur.bytes > big.cur.bytes) {
				big = t
			}
		}
		if big == nil {
			return
		}
		s.detach(big)
	}
}

// table returns the batching state of table index i (of n), creating it
// (and its flusher, once started) on first use. Called with mu held.
func (s *sink) table(i int, st *schemas.Table, n int) *table {
	if s.tables == nil {
		s.tables = make([]*table, n)
	}
	t := s.tables[i]
	if t == nil {
		t = &table{t: st, name: st.Name(), wake: make(chan struct{}, 1)}
		s.tables[i] = t
		s.order = append(s.order, t)
		if s.started {
			s.startFlusher(s.ctx, t)
		}
	}
	return t
}

func (s *sink) newBatch(t *table) *batch {
	if n := len(t.spare); n > 0 {
		b := t.spare[n-1]
		t.spare = t.spare[:n-1]
		return b
	}
	b := &batch{}
	b.reset(s.nparts)
	return b
}

// appendRows appends the staged rows blk (charged bytes) to b: to its last
// chunk while that stays under chunkBytes, else to a new one, reused from
// t's pool when there is one. Called with mu held.
func (s *sink) appendRows(t *table, b *batch, blk *schemas.Block, bytes int64) {
	if len(b.chunks) == 0 || (b.last > 0 && b.last+bytes > chunkBytes) {
		var c *schemas.Block
		if n := len(t.free); n > 0 {
			c = t.free[n-1]
			t.free[n-1] = nil
			t.free = t.free[:n-1]
			s.pooled -= c.CapBytes()
		} else {
			// Pooled chunks of other tables would now be beyond the free
			// budget on top of this one.
			s.trimPools(s.poolLimit(0))
			c = schemas.NewBlock(t.t)
		}
		// Room for a chunk's worth of rows like these at once.
		if bytes > 0 && bytes < chunkBytes {
			c.GrowLike(blk, int(int64(blk.Len())*chunkBytes*9/8/bytes))
		}
		b.chunks = append(b.chunks, c)
		b.last = 0
	}
	_ = b.chunks[len(b.chunks)-1].AppendBlock(blk) // same table by construction
	b.rows += blk.Len()
	b.last += bytes
	b.bytes += bytes
}

// recycle empties a stored batch whose charged bytes are about to be
// released: its chunks go to t's pool while the pools stay within
// poolLimit, the batch to t's spares. Called with mu held.
func (s *sink) recycle(t *table, b *batch) {
	limit := s.poolLimit(b.bytes)
	for i, c := range b.chunks {
		c.Reset() // drops references so messages can be collected
		if n := c.CapBytes(); s.pooled+n <= limit {
			t.free = append(t.free, c)
			s.pooled += n
		}
		b.chunks[i] = nil
	}
	b.reset(s.nparts)
	t.spare = append(t.spare, b)
}

// detach queues t's current batch for flushing. Called with mu held.
func (s *sink) detach(t *table) {
	b := t.cur
	if b == nil || b.rows == 0 {
		return
	}
	t.cur = nil
	s.pendingCur -= b.bytes
	t.queue = append(t.queue, b)
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// flushOld detaches batches older than age (the age flush).
func (s *sink) flushOld(age time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, t := range s.order {
		if t.cur != nil && t.cur.rows > 0 && now.Sub(t.cur.born) >= age {
			s.detach(t)
		}
	}
}

// notify wakes everyone waiting for a flush to complete. Called with mu held.
func (s *sink) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// changes returns a channel closed at the next completed flush.
func (s *sink) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// barrier detaches every batch and waits until all are stored.
func (s *sink) barrier(ctx context.Context) error {
	s.mu.Lock()
	for _, t := range s.order {
		s.detach(t)
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		empty := true
		for _, t := range s.order {
			if len(t.queue) > 0 {
				empty = false
				break
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// done returns, per partition index, the offset up to which (exclusive)
// every message is stored: the commit offset. -1 means nothing consumed.
func (s *sink) done() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offsets.commits()
}

func (s *sink) startFlusher(ctx context.Context, t *table) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.flusher(ctx, t)
	}()
}

// flusher inserts t's queued batches in order until ctx is done.
func (s *sink) flusher(ctx context.Context, t *table) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		}
		for {
			s.mu.Lock()
			if len(t.queue) == 0 {
				s.mu.Unlock()
				break
			}
			b := t.queue[0]
			s.mu.Unlock()

			if err := s.flush(ctx, t, b); err != nil {
				return // only when ctx is done
			}

			s.mu.Lock()
			t.queue[0] = nil
			t.queue = t.queue[1:]
			for p, f := range b.first {
				if f >= 0 {
					s.offsets.release(p, f)
				}
			}
			charged := b.bytes
			s.recycle(t, b)
			s.notify()
			s.mu.Unlock()
			if s.budget != nil {
				s.budget.release(charged)
			}
		}
	}
}
