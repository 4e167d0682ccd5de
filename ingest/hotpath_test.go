package ingest

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/config"
)

// cpuTime is the CPU time of the whole process (all threads, GC included).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHotPath measures the per-message work of a partition reader,
// with no network: decode and validate, append to the column buffers of
// events_raw and the typed table, add them to the sink's batches every 512
// messages (batches of 50,000 rows, discarded when full: inserting is
// BenchmarkInsertDirect). Besides ns/op (wall clock, inflated when other
// processes share the CPU) it reports cpu-ns/op, the process CPU time per
// message with GC, and events/s/core from it. Run it with -benchtime
// 3000000x: until every table's batches have grown to 50,000 rows (the
// rarest family is 2% of the events), B/op and cpu-ns/op include that
// first growth. B/op also counts the chunks the pools cannot keep: with
// no budget they hold 64 MiB, less than every table's 50,000-row batches.
func BenchmarkHotPath(b *testing.B) {
	msgs := eventgen.Generate(10000, config.DefaultTopics(), eventgen.Options{})
	bytes := 0
	for _, m := range msgs {
		bytes += len(m.Value)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	discard := func(context.Context, *table, *batch) error { return nil }
	s := newSink(nil, DefaultBatchRows, 1<<30, discard)
	s.start(ctx)
	s.reset(1)
	var bl builder
	st := newStaged()
	now := time.Now().UTC().Truncate(time.Second)
	b.SetBytes(int64(bytes / len(msgs)))
	b.ReportAllocs()
	start := cpuTime(b)
	i := 0
	for b.Loop() {
		m := &msgs[i%len(msgs)]
		m.Offset = int64(i)
		bl.build(st, m, charge(m), now)
		if st.msgs >= stageMessages {
			s.add(0, st)
		}
		i++
	}
	per := float64((cpuTime(b) - start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(per, "cpu-ns/op")
	b.ReportMetric(1e9/per, "events/s/core")
}

// TestChargeCoversMemory checks that the budget charge of a message is at
// least the heap it holds while batched (the message and its rows), so the
// memory budget bounds the real heap.
func TestChargeCoversMemory(t *testing.T) {
	gen := eventgen.Generate(20000, config.DefaultTopics(), eventgen.Options{Seed: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newSink(nil, 1<<30, 1<<40, func(context.Context, *table, *batch) error { return nil })
	s.start(ctx)
	s.reset(1)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// Each message its own allocation, as kafka-go delivers them, made
	// after the first reading so that the heap counts them.
	var charged int64
	msgs := make([]kafka.Message, len(gen))
	for i, m := range gen {
		m.Value = append([]byte(nil), m.Value...)
		m.Key = append([]byte(nil), m.Key...)
		msgs[i] = m
		charged += charge(&m)
	}
	var bl builder
	st := newStaged()
	now := time.Now()
	for i := range msgs {
		bl.build(st, &msgs[i], charge(&msgs[i]), now)
		if st.msgs >= stageMessages {
			s.add(0, st)
		}
	}
	s.add(0, st)
	msgs = nil // the batches alone hold the messages now
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d messages: heap held by batches %d B (%d B/msg), charged %d B (%d B/msg)",
		20000, held, held/20000, charged, charged/20000)
	if held > charged {
		t.Errorf("batched messages hold %d B of heap but are charged %d B: the budget under-counts", held, charged)
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(gen) // counted in before: must not be collected before after
}
