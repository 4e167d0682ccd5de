package schemas

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time of the whole process (all threads, GC included).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports, besides ns/op (wall clock, inflated
// when other processes share the CPU), cpu-ns/op (process CPU time per
// event, GC included) and events/s per core derived from it.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		f()
	}
	cpu := cpuTime(b) - start
	per := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(per, "cpu-ns/op")
	b.ReportMetric(1e9/per, "events/s/core")
}

// BenchmarkDecode measures decode+validate of a typical event (a finding
// with most optional fields, ~800 bytes) on one core.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"finding", "testdata/valid/security.finding.opened.json"},
		{"opportunity", "testdata/valid/crm.opportunity.closed.json"},
		{"incident", "testdata/valid/security.incident.updated.json"},
	} {
		value, err := os.ReadFile(bc.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/structured", func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			loop(b, func() {
				if _, err := Decode(value, nil); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	ex := loadExamples(b)
	for _, e := range ex {
		if e.name != "security.finding.opened" {
			continue
		}
		b.Run("finding/binary", func(b *testing.B) {
			b.SetBytes(int64(len(e.value)))
			loop(b, func() {
				if _, err := Decode(e.value, e.headers); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	b.Run("rejected/enum", func(b *testing.B) {
		value := mutate(b, nil, map[string]string{"severity": `"urgent"`})
		loop(b, func() {
			if _, err := Decode(value, nil); err == nil {
				b.Fatal("accepted")
			}
		})
	})
}

// BenchmarkAppendMessage measures the hot path of ingest alone: a message
// decoded, validated and appended to the column buffers of events_raw and
// its typed table (Rows reset every 10,000 rows, as a flushed batch is).
func BenchmarkAppendMessage(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"finding", "testdata/valid/security.finding.opened.json"},
		{"opportunity", "testdata/valid/crm.opportunity.closed.json"},
		{"incident", "testdata/valid/security.incident.updated.json"},
	} {
		value, err := os.ReadFile(bc.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			var dec Decoder
			var rows Rows
			lin := Lineage{Topic: "security.events", IngestedAt: time.Now()}
			b.SetBytes(int64(len(value)))
			loop(b, func() {
				if rowsLen(&rows) >= 20_000 {
					rows.Reset()
				}
				lin.Offset++
				if _, rej := dec.AppendMessage(&rows, value, nil, lin); rej != nil {
					b.Fatal(rej)
				}
			})
		})
	}
}
