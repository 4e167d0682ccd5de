package ingest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/schemas"
)

// batch is the rows of one table waiting for one INSERT.
type batch struct {
	vals  []any // rows*len(cols) values, row-major
	rows  int
	bytes int64 // budget bytes charged to this batch
	born  time.Time
	// first[p] is the lowest Kafka offset of partition index p with a row
	// in this batch, -1 when none: what keeps that partition's commit back.
	first []int64
	// dlq holds the dead-letter messages of a rejects batch; they are
	// produced (acks=all) before the rows are inserted.
	dlq     []kafka.Message
	dlqDone bool
}

func (b *batch) reset(nparts int) {
	clear(b.vals) // drop references so payloads can be collected
	b.vals = b.vals[:0]
	b.rows = 0
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
	name  string
	cols  []string
	query string // INSERT INTO name (cols) — fixed, never from input

	cur   *batch   // being filled
	queue []*batch // detached, queue[0] is being inserted
	wake  chan struct{}
}

func newTable(name string, cols []string) *table {
	return &table{
		name:  name,
		cols:  cols,
		query: "INSERT INTO " + name + " (" + strings.Join(cols, ", ") + ")",
		wake:  make(chan struct{}, 1),
	}
}

// flushFunc writes one batch of t; it returns only when the batch is
// stored (it retries internally) or ctx is done.
type flushFunc func(ctx context.Context, t *table, b *batch) error

// sink batches rows per table and tracks, per assigned partition, which
// offsets are fully stored. All fields are guarded by mu; the work done
// under mu is a few slice appends per message.
type sink struct {
	mu     sync.Mutex
	tables map[string]*table
	order  []*table
	nparts int
	next   []int64 // per partition index: offset after the last message added
	pool   []*batch

	budget     *budget
	batchRows  int
	batchBytes int64
	pendingCur int64 // bytes in cur batches, for the memory-pressure flush
	changed    chan struct{}
	flush      flushFunc
	wg         sync.WaitGroup
	started    bool
	ctx        context.Context // the flushers' context, for tables seen later
}

func newSink(b *budget, rows int, bytes int64, flush flushFunc) *sink {
	return &sink{
		tables:     map[string]*table{},
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
	s.next = make([]int64, nparts)
	for i := range s.next {
		s.next[i] = -1
	}
	for _, t := range s.order {
		if t.cur != nil {
			t.cur.reset(nparts)
		}
	}
	for _, b := range s.pool {
		b.reset(nparts)
	}
}

// row is one table row to add.
type row struct {
	table   string
	cols    []string        // the table's columns, or nil for a typed table:
	payload schemas.Payload // then its columns come from the payload
	vals    []any
	bytes   int64
	dlq     *kafka.Message
}

// add appends the rows of the message at offset of partition index p. The
// rows' budget bytes must have been acquired. It never blocks.
func (s *sink) add(p int, offset int64, rows ...row) {
	s.mu.Lock()
	for i := range rows {
		r := &rows[i]
		t := s.tables[r.table]
		if t == nil {
			cols := r.cols
			if cols == nil {
				cols = typedColumnsOf(r.payload)
			}
			t = newTable(r.table, cols)
			s.tables[r.table] = t
			s.order = append(s.order, t)
			if s.started {
				s.startFlusher(s.ctx, t)
			}
		}
		b := t.cur
		if b == nil {
			b = s.newBatch()
			t.cur = b
		}
		if b.rows == 0 {
			b.born = time.Now()
		}
		b.vals = append(b.vals, r.vals...)
		b.rows++
		b.bytes += r.bytes
		s.pendingCur += r.bytes
		if r.dlq != nil {
			b.dlq = append(b.dlq, *r.dlq)
		}
		if b.first[p] < 0 {
			b.first[p] = offset
		}
		if b.rows >= s.batchRows || b.bytes >= s.batchBytes {
			s.detach(t)
		}
	}
	s.next[p] = offset + 1
	// Under memory pressure flush everything early rather than have fetch
	// wait a whole FlushAge for batches that are not full.
	if s.budget != nil && s.pendingCur >= s.budget.cap/2 {
		for _, t := range s.order {
			s.detach(t)
		}
	}
	s.mu.Unlock()
}

func (s *sink) newBatch() *batch {
	if n := len(s.pool); n > 0 {
		b := s.pool[n-1]
		s.pool = s.pool[:n-1]
		return b
	}
	b := &batch{}
	b.reset(s.nparts)
	return b
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
	out := make([]int64, s.nparts)
	copy(out, s.next)
	lower := func(b *batch) {
		if b == nil {
			return
		}
		for p, f := range b.first {
			if f >= 0 && f < out[p] {
				out[p] = f
			}
		}
	}
	for _, t := range s.order {
		lower(t.cur)
		for _, b := range t.queue {
			lower(b)
		}
	}
	return out
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
			charged := b.bytes
			b.reset(s.nparts)
			s.pool = append(s.pool, b)
			s.notify()
			s.mu.Unlock()
			if s.budget != nil {
				s.budget.release(charged)
			}
		}
	}
}
