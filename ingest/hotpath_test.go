package ingest

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/config"
)

// BenchmarkHotPath measures the per-message work of a partition reader:
// decode and validate, build the raw and typed rows, add them to the
// batches. Inserting is not included (see BenchmarkInsertDirect).
func BenchmarkHotPath(b *testing.B) {
	msgs := eventgen.Generate(10000, config.DefaultTopics(), eventgen.Options{})
	bytes := 0
	for _, m := range msgs {
		bytes += len(m.Value)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	discard := func(context.Context, *table, *batch) error { return nil }
	s := newSink(nil, 50000, 1<<30, discard)
	s.start(ctx)
	s.reset(1)
	var bl builder
	now := time.Now().UTC().Truncate(time.Second)
	b.SetBytes(int64(bytes / len(msgs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := &msgs[i%len(msgs)]
		rows, _ := bl.build(m, charge(m), now)
		s.add(0, int64(i), rows...)
		i++
	}
}

// TestChargeCoversMemory checks that the budget charge of a message is at
// least the heap it holds while batched (rows and decoded values), so the
// memory budget bounds the real heap.
func TestChargeCoversMemory(t *testing.T) {
	msgs := eventgen.Generate(20000, config.DefaultTopics(), eventgen.Options{Seed: 3})
	var charged int64
	for i := range msgs {
		charged += charge(&msgs[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newSink(nil, 1<<30, 1<<40, func(context.Context, *table, *batch) error { return nil })
	s.start(ctx)
	s.reset(1)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var bl builder
	now := time.Now()
	for i := range msgs {
		rows, _ := bl.build(&msgs[i], charge(&msgs[i]), now)
		s.add(0, int64(i), rows...)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d messages: heap held by batches %d B (%d B/msg), charged %d B (%d B/msg)",
		len(msgs), held, held/int64(len(msgs)), charged, charged/int64(len(msgs)))
	if held > charged {
		t.Errorf("batched messages hold %d B of heap but are charged %d B: the budget under-counts", held, charged)
	}
	runtime.KeepAlive(s)
}
