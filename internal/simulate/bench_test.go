package simulate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkGenerate measures generation of the default organisation (365
// days, about 215k lines) to a file; the figure to watch is events/s
// (target >= 200,000 on one core: go test -run x -bench . -cpu 1).
func BenchmarkGenerate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "events.jsonl")
	lines, bytes := 0, int64(0)
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		tr, err := WriteJSONL(context.Background(), f, Options{})
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		f.Close()
		lines += tr.Delivery.Lines
		bytes += st.Size()
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(bytes / int64(b.N))
}
