package ingest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/schemas"
)

// gatedFlush is a flushFunc whose inserts complete only when the test
// releases them, so the test controls which batches are stored.
type gatedFlush struct {
	mu      sync.Mutex
	release map[string]chan struct{}
	stored  map[string]int // table -> rows stored
}

func newGatedFlush() *gatedFlush {
	return &gatedFlush{release: map[string]chan struct{}{}, stored: map[string]int{}}
}

func (g *gatedFlush) gate(table string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := g.release[table]
	if ch == nil {
		ch = make(chan struct{})
		g.release[table] = ch
	}
	return ch
}

func (g *gatedFlush) flush(ctx context.Context, t *table, b *batch) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-g.gate(t.name):
	}
	g.mu.Lock()
	g.stored[t.name] += b.rows
	g.mu.Unlock()
	return nil
}

// Kinds of test message and the tables their rows go to.
const (
	finding    = "finding"    // events_raw and finding_events
	deployment = "deployment" // events_raw and deployment_events
	rejected   = "rejected"   // ingest_rejects
)

var tableOf = map[string]string{"raw": schemas.RawTable, finding: "finding_events", deployment: "deployment_events", rejected: schemas.RejectsTable}

// testMessage returns a message of kind at offset.
func testMessage(t testing.TB, kind string, offset int64) kafka.Message {
	t.Helper()
	if kind == rejected {
		return kafka.Message{Topic: "t", Offset: offset, Value: []byte("not json")}
	}
	for _, m := range eventgen.Generate(50, config.DefaultTopics(), eventgen.Options{}) {
		if bytes.Contains(m.Value, []byte(`"type":"`+kind+".")) || bytes.Contains(m.Value, []byte(`"type":"security.`+kind+".")) {
			m.Offset = offset
			return m
		}
	}
	t.Fatalf("no %s event generated", kind)
	return kafka.Message{}
}

// stage returns the staged rows of one message of kind at offset, charged
// 10 bytes.
func stage(t testing.TB, kind string, offset int64) *staged {
	st := newStaged()
	var bl builder
	m := testMessage(t, kind, offset)
	bl.build(st, &m, 10, time.Now())
	return st
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSinkCommitOffsets checks the heart of at-least-once delivery: the
// commit offset of a partition never passes a message that has a row in a
// batch not yet stored, whichever table is slow.
func TestSinkCommitOffsets(t *testing.T) {
	type add struct {
		part   int
		offset int64
		kind   string
	}
	tests := []struct {
		name    string
		adds    []add
		release []string // tables whose inserts succeed
		want    []int64  // commit offsets per partition after the releases
	}{
		{
			name: "nothing stored",
			adds: []add{{0, 0, finding}, {0, 1, deployment}},
			want: []int64{0, -1},
		},
		{
			name:    "all stored",
			adds:    []add{{0, 0, finding}, {0, 1, deployment}, {1, 7, rejected}},
			release: []string{"raw", finding, deployment, rejected},
			want:    []int64{2, 8},
		},
		{
			name:    "slow typed table holds its partition back",
			adds:    []add{{0, 0, finding}, {0, 1, deployment}, {0, 2, finding}, {1, 5, finding}},
			release: []string{"raw", finding},
			want:    []int64{1, 6},
		},
		{
			name:    "slow raw table holds every partition back",
			adds:    []add{{0, 3, finding}, {1, 9, deployment}},
			release: []string{finding, deployment},
			want:    []int64{3, 9},
		},
		{
			name:    "reject in flight holds only its partition",
			adds:    []add{{0, 0, finding}, {0, 1, rejected}, {0, 2, finding}, {1, 0, finding}},
			release: []string{"raw", finding},
			want:    []int64{1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := newGatedFlush()
			s := newSink(newBudget(1<<30), 1000, 1<<30, g.flush)
			s.start(ctx)
			s.reset(2)
			for _, a := range tt.adds {
				s.add(a.part, stage(t, a.kind, a.offset))
			}
			s.mu.Lock()
			for _, tb := range s.order {
				s.detach(tb)
			}
			s.mu.Unlock()
			for _, tb := range tt.release {
				close(g.gate(tableOf[tb]))
			}
			waitFor(t, "released tables stored", func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				for _, tbl := range s.order {
					if slices.ContainsFunc(tt.release, func(k string) bool { return tableOf[k] == tbl.name }) && len(tbl.queue) > 0 {
						return false
					}
				}
				return true
			})
			if got := s.done(); !slices.Equal(got, tt.want) {
				t.Errorf("done() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSinkFlushTriggers checks that batches leave by rows, by bytes, by
// age and by barrier, and that a barrier waits for every insert.
func TestSinkFlushTriggers(t *testing.T) {
	tests := []struct {
		name     string
		rows     int
		bytes    int64
		add      int
		age      time.Duration // 0: no age flush
		barrier  bool
		wantRows int // rows stored
	}{
		{name: "below thresholds stays", rows: 10, bytes: 1 << 20, add: 9, wantRows: 0},
		{name: "row threshold", rows: 10, bytes: 1 << 20, add: 25, wantRows: 20},
		{name: "byte threshold", rows: 1000, bytes: 50, add: 12, wantRows: 10},
		{name: "age", rows: 1000, bytes: 1 << 20, add: 3, age: time.Millisecond, wantRows: 3},
		{name: "barrier", rows: 1000, bytes: 1 << 20, add: 7, barrier: true, wantRows: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := newGatedFlush()
			close(g.gate(schemas.RejectsTable))
			s := newSink(newBudget(1<<30), tt.rows, tt.bytes, g.flush)
			s.start(ctx)
			s.reset(1)
			for i := range tt.add {
				s.add(0, stage(t, rejected, int64(i)))
			}
			if tt.age > 0 {
				time.Sleep(2 * tt.age)
				s.flushOld(tt.age)
			}
			if tt.barrier {
				if err := s.barrier(ctx); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "queue empty", func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				return len(s.order) == 1 && len(s.order[0].queue) == 0
			})
			g.mu.Lock()
			got := g.stored[schemas.RejectsTable]
			g.mu.Unlock()
			if got != tt.wantRows {
				t.Errorf("stored %d rows, want %d", got, tt.wantRows)
			}
		})
	}
}

// TestBudget checks that acquiring blocks when the budget is used up and
// resumes on release, and that one oversized message still passes alone.
func TestBudget(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 50); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire over budget: err = %v, want deadline exceeded", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.acquire(ctx, 50) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("acquire returned %v before release", err)
	default:
	}
	b.release(60)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	b.release(50)
	if n := b.clamp(1000); n != 100 {
		t.Fatalf("clamp(1000) = %d, want 100", n)
	}
	if err := b.acquire(ctx, b.clamp(1000)); err != nil {
		t.Fatal(err)
	}
	if b.inUse() != 100 {
		t.Fatalf("inUse = %d", b.inUse())
	}
}

// TestSinkMemoryPressure checks that a sink whose unflushed rows reach
// three quarters of the budget flushes early instead of waiting for the
// age flush, the largest batches first and only until a quarter of the
// budget is pending: small batches keep filling (each INSERT is a part
// for ClickHouse to merge).
func TestSinkMemoryPressure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := newGatedFlush()
	for _, tbl := range tableOf {
		close(g.gate(tbl))
	}
	s := newSink(newBudget(100), 1000, 1<<20, g.flush)
	s.start(ctx)
	s.reset(1)
	s.add(0, stage(t, finding, 0)) // 5 bytes to events_raw, 5 to finding_events
	for i := range 6 {             // 60 bytes to ingest_rejects: 70 pending, under 75
		s.add(0, stage(t, rejected, int64(1+i)))
	}
	time.Sleep(50 * time.Millisecond)
	g.mu.Lock()
	if n := len(g.stored); n != 0 {
		t.Errorf("flushed below three quarters of the budget: %v", g.stored)
	}
	g.mu.Unlock()
	s.add(0, stage(t, rejected, 7)) // 80 pending
	waitFor(t, "early flush", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.stored[schemas.RejectsTable] == 7
	})
	time.Sleep(50 * time.Millisecond)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stored[schemas.RawTable] != 0 || g.stored["finding_events"] != 0 {
		t.Errorf("small batches flushed too: %v", g.stored)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var last time.Duration
	for i := range 40 {
		d := b.next()
		if d < 50*time.Millisecond || d > time.Second {
			t.Fatalf("attempt %d: delay %v outside [min/2, max]", i, d)
		}
		last = d
	}
	if last < 500*time.Millisecond {
		t.Fatalf("delay after 40 attempts %v, want capped near max", last)
	}
}

func TestCaughtUpTarget(t *testing.T) {
	target := drainTarget{
		"a": {0: {first: 0, end: 10}, 1: {first: 0, end: 0}, 2: {first: 5, end: 5}},
		"b": {0: {first: 3, end: 4}},
	}
	tests := []struct {
		name       string
		committed  kafkaio.Offsets
		wantOK     bool
		wantBehind int
	}{
		{"nothing committed", kafkaio.Offsets{"a": {0: -1, 1: -1, 2: -1}, "b": {0: -1}}, false, 2},
		{"one behind", kafkaio.Offsets{"a": {0: 10, 1: -1, 2: -1}, "b": {0: 3}}, false, 1},
		{"caught up; empty partitions need no commit", kafkaio.Offsets{"a": {0: 10}, "b": {0: 4}}, true, 0},
		{"past the end (new messages since start)", kafkaio.Offsets{"a": {0: 12}, "b": {0: 9}}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, behind := target.caughtUp(tt.committed)
			if ok != tt.wantOK || behind != tt.wantBehind {
				t.Errorf("caughtUp = %v, %d; want %v, %d", ok, behind, tt.wantOK, tt.wantBehind)
			}
		})
	}
}

// TestSinkChunks: a batch keeps its rows in chunks of about chunkBytes of
// charged bytes, in order, and the chunks of a stored batch are reused by
// the table's next batch while the pools stay under their limit.
func TestSinkChunks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		full  bool // the pools already hold their limit
		reuse bool
	}{
		{"pools under the limit", false, true},
		{"pools at the limit", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			var stored []schemas.Blocks
			var lens [][]int // rows per chunk when stored (the chunks are reset after)
			flush := func(_ context.Context, _ *table, b *batch) error {
				mu.Lock()
				defer mu.Unlock()
				stored = append(stored, slices.Clone(b.chunks))
				var l []int
				for _, c := range b.chunks {
					l = append(l, c.Len())
				}
				lens = append(lens, l)
				return nil
			}
			s := newSink(newBudget(64<<20), 6, 1<<40, flush)
			s.start(ctx)
			s.reset(1)
			if tc.full {
				s.mu.Lock()
				s.pooled = int(s.budget.cap) // all a budget could leave free
				s.mu.Unlock()
			}
			const charge = 400 << 10 // two messages per chunk of 1 MiB
			var bl builder
			for i := range 12 {
				st := newStaged()
				m := testMessage(t, rejected, int64(i))
				if !s.budget.tryAcquire(charge) { // as process does
					t.Fatal("budget exhausted")
				}
				bl.build(st, &m, charge, time.Now())
				s.add(0, st)
				if i == 5 { // the first batch (6 rows) stored before the second fills
					waitFor(t, "first batch stored", func() bool { mu.Lock(); defer mu.Unlock(); return len(stored) == 1 })
				}
			}
			waitFor(t, "second batch stored", func() bool { mu.Lock(); defer mu.Unlock(); return len(stored) == 2 })
			mu.Lock()
			defer mu.Unlock()
			first, second := stored[0], stored[1]
			for k, l := range lens {
				if !slices.Equal(l, []int{2, 2, 2}) {
					t.Fatalf("batch %d: rows per chunk %v, want [2 2 2]", k+1, l)
				}
			}
			reused := 0
			for _, c := range second {
				if slices.Contains(first, c) {
					reused++
				}
			}
			if tc.reuse && reused != len(second) {
				t.Errorf("%d of the second batch's %d chunks reused, want all", reused, len(second))
			}
			if !tc.reuse && reused != 0 {
				t.Errorf("%d chunks reused past the pool limit", reused)
			}
		})
	}
}

// TestSinkPoolLimit: the chunk pools may hold what the memory budget has
// free (a stored batch's bytes counting as free), never less than a
// sixteenth of it; a chunk allocated while the pools hold more drops
// pooled chunks, of every table, down to that.
func TestSinkPoolLimit(t *testing.T) {
	const capacity = 64 << 20
	for _, tc := range []struct {
		name      string
		used      int64 // budget in use
		releasing int64
		want      int
	}{
		{"budget free", 0, 0, capacity},
		{"half in use", capacity / 2, 0, capacity / 2},
		{"a stored batch counts as free", capacity / 2, capacity / 4, capacity * 3 / 4},
		{"all in use: the floor", capacity, 0, capacity / 16},
		{"nearly all in use: the floor", capacity - 1<<20, 0, capacity / 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(newBudget(capacity), 10, 1<<40, nil)
			s.budget.force(tc.used)
			if got := s.poolLimit(tc.releasing); got != tc.want {
				t.Errorf("poolLimit(%d) with %d in use = %d, want %d", tc.releasing, tc.used, got, tc.want)
			}
		})
	}

	// Two tables' pools of 8 chunks each: trimming to what holds 5 chunks
	// drops chunks of both.
	s, chunk := pooledSink(t, capacity)
	limit := 5 * chunk
	s.trimPools(limit)
	if s.pooled > limit || s.pooled == 0 {
		t.Errorf("pools hold %d bytes after trimming to %d", s.pooled, limit)
	}
	for _, tb := range s.order {
		if len(tb.free) == 8 {
			t.Errorf("%s: no pooled chunk dropped", tb.name)
		}
	}

	// A chunk allocated for a third table trims the pools to the free
	// budget: nothing with the budget free, down to the floor with all of
	// it in use.
	s, _ = pooledSink(t, capacity)
	before := s.pooled
	s.add(0, stage(t, "incident", 20))
	if s.pooled != before {
		t.Errorf("pools went from %d to %d bytes with the budget free", before, s.pooled)
	}
	s.budget.force(capacity)
	s.add(0, stage(t, "gate", 21))
	if s.pooled > capacity/16 || s.pooled == 0 {
		t.Errorf("pools hold %d bytes after a new chunk with the budget in use, want 1-%d", s.pooled, capacity/16)
	}
}

// pooledSink returns a sink whose finding_events and deployment_events
// pools hold 8 chunks each (more than a sixteenth of capacity together),
// and the size of the largest chunk.
func pooledSink(t *testing.T, capacity int64) (*sink, int) {
	t.Helper()
	s := newSink(newBudget(capacity), 10, 1<<40, nil)
	s.reset(1)
	chunk := 0
	for i, kind := range []string{"finding", "deployment"} {
		st := stage(t, kind, int64(i))
		for j, blk := range st.rows.Blocks() {
			if blk.Len() == 0 || blk.Table().Name() == schemas.RawTable {
				continue
			}
			tb := s.table(j, blk.Table(), len(st.rows.Blocks()))
			for range 8 {
				c := schemas.NewBlock(blk.Table())
				c.GrowLike(blk, 5000)
				tb.free = append(tb.free, c)
				s.pooled += c.CapBytes()
				chunk = max(chunk, c.CapBytes())
			}
		}
	}
	if len(s.order) != 2 || s.pooled <= int(capacity/16) {
		t.Fatalf("%d tables pool %d bytes, want 2 tables and more than %d", len(s.order), s.pooled, capacity/16)
	}
	return s, chunk
}
