package ingest

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/segmentio/kafka-go/compress"
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
