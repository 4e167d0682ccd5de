package ingest

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/compress"

	"github.com/secimpact/impact/schemas"
)

// TestLimitedCodec: each of kafka-go's four codecs, wrapped, decompresses
// up to the limit and fails with ErrBatchTooLarge past it, holding at most
// limit+1 bytes; compressing is unchanged.
func TestLimitedCodec(t *testing.T) {
	const limit = 1 << 20
	var lim atomic.Int64
	lim.Store(limit)
	for _, c := range []compress.Codec{&compress.GzipCodec, &compress.SnappyCodec, &compress.Lz4Codec, &compress.ZstdCodec} {
		for _, tc := range []struct {
			name string
			size int
			fail bool
		}{
			{"empty", 0, false},
			{"under", limit - 1, false},
			{"at", limit, false},
			{"over", limit + 1, true},
			{"bomb", 64 << 20, true},
		} {
			t.Run(c.Name()+"/"+tc.name, func(t *testing.T) {
				lc := limitedCodec{Codec: c, limit: &lim}
				var z bytes.Buffer
				w := lc.NewWriter(&z)
				if _, err := w.Write(bytes.Repeat([]byte{'a'}, tc.size)); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				r := lc.NewReader(&z)
				var out bytes.Buffer
				_, err := out.ReadFrom(r) // as kafka-go reads a batch
				r.Close()
				switch {
				case tc.fail && !errors.Is(err, ErrBatchTooLarge):
					t.Fatalf("%d bytes: err %v, want ErrBatchTooLarge", tc.size, err)
				case !tc.fail && err != nil:
					t.Fatalf("%d bytes: %v", tc.size, err)
				case !tc.fail && out.Len() != tc.size:
					t.Fatalf("decompressed %d bytes, want %d", out.Len(), tc.size)
				case out.Len() > limit+1:
					t.Fatalf("held %d bytes, over the limit %d + 1", out.Len(), limit)
				}
			})
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	for _, tc := range []struct{ budget, want int64 }{
		{16 << 20, 16 << 20},
		{DefaultMemoryBudget, 16 << 20},
		{512 << 20, 64 << 20},
	} {
		if got := decompressLimit(tc.budget); got != tc.want {
			t.Errorf("decompressLimit(%d MiB) = %d MiB, want %d MiB", tc.budget>>20, got>>20, tc.want>>20)
		}
	}
}

// TestRejectBatch: a skipped record batch is one ingest_rejects row at its
// first offset (rule batch_too_large, the range and the limit in the
// detail) with its dead-letter record, and the staged rows end after its
// last offset.
func TestRejectBatch(t *testing.T) {
	st := newStaged()
	bl := builder{}
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	bl.rejectBatch(st, "security.events", 3, &skippedBatch{first: 10, last: 13, limit: 16 << 20}, rowOverhead, now)
	b := st.rows.Block(schemas.IngestRejects)
	if b.Len() != 1 {
		t.Fatalf("ingest_rejects rows = %d, want 1", b.Len())
	}
	for col, want := range map[string]string{
		"kafka_topic": "security.events",
		"rule":        RuleBatchTooLarge,
		"field":       "",
		"detail":      "record batch at offsets 10..13 of security.events/3 decompresses to more than 16777216 bytes; skipped",
	} {
		if got, _ := b.String(0, col); got != want {
			t.Errorf("%s = %q, want %q", col, got, want)
		}
	}
	if st.next != 14 || st.msgs != 1 || st.first[schemas.IngestRejects.Index()] != 10 {
		t.Errorf("staged next %d, msgs %d, first %d; want 14, 1, 10", st.next, st.msgs, st.first[schemas.IngestRejects.Index()])
	}
	if len(st.dlq) != 1 {
		t.Fatalf("dead-letter records = %d, want 1", len(st.dlq))
	}
	for h, want := range map[string]string{HeaderRejectRule: RuleBatchTooLarge, HeaderSourceOffset: "10", HeaderSourcePartition: "3"} {
		if got, _ := header(&st.dlq[0], h); got != want {
			t.Errorf("dead-letter header %s = %q, want %q", h, got, want)
		}
	}
}

// TestLimitedCodecGate: only one decompression at a time grows past
// gateBytes; the next one waits until the first ends.
func TestLimitedCodecGate(t *testing.T) {
	var lim atomic.Int64
	lim.Store(4 * gateBytes)
	lc := limitedCodec{Codec: &compress.SnappyCodec, limit: &lim}
	var z bytes.Buffer
	w := lc.NewWriter(&z)
	if _, err := w.Write(make([]byte, 2*gateBytes)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	compressed := z.Bytes()
	first := lc.NewReader(bytes.NewReader(compressed))
	buf := make([]byte, gateBytes+1)
	if _, err := io.ReadFull(first, buf); err != nil { // past gateBytes: the next Read takes the gate
		t.Fatal(err)
	}
	if _, err := first.Read(buf[:1]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		second := lc.NewReader(bytes.NewReader(compressed))
		_, err := io.Copy(io.Discard, second)
		second.Close()
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("second decompression passed the gate while the first held it (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
