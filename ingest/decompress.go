package ingest

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/segmentio/kafka-go/compress"
)

// Bounded decompression. kafka-go decompresses a compressed record batch
// whole into a bytes.Buffer before returning any of its messages, without
// any limit, and offers no per-reader setting: a "zip bomb" within the
// broker's max.message.bytes (1 MiB of gzip can hold a gigabyte of zeros)
// would be allocated whole. kafka-go finds its codecs in the package-level
// table compress.Codecs, so ingest replaces the four entries with wrappers
// whose readers fail with ErrBatchTooLarge past a limit. The partition
// reader then skips that record batch and records it as a reject
// (RuleBatchTooLarge, see skipBatch).

// ErrBatchTooLarge is the error of a record batch that decompresses to more
// than the decompression limit.
var ErrBatchTooLarge = errors.New("record batch decompresses past the limit")

// RuleBatchTooLarge is the ingest_rejects rule (and rejects metric reason)
// of a skipped record batch.
const RuleBatchTooLarge = "batch_too_large"

// minDecompressLimit is the smallest decompression limit: a record batch of
// max.message.bytes (1 MiB by default) of JSON events compressed 10x, with
// room to spare.
const minDecompressLimit = 16 << 20

// decompressLimit is the decompression limit of a memory budget: the fetch
// share, at least minDecompressLimit. kafka-go's bytes.Buffer doubles as it
// grows, so a decompression costs up to about 3x the limit while it runs
// (the old and the new buffer): 48 MiB with the default budget, within
// what the memory bound keeps above the memory limit (64 MiB), as only one
// decompression at a time grows past gateBytes.
func decompressLimit(budget int64) int64 {
	return max(fetchShare(budget), minDecompressLimit)
}

// gateBytes is how far a decompression goes before it must hold bigGate:
// kafka-go sizes the buffer at 4x the compressed size before reading (4 MiB
// for a batch of 1 MiB), so only batches that grow it past that wait, and
// several partitions cannot each hold a batch near the limit at once.
const gateBytes = 4 << 20

var (
	codecLimit   atomic.Int64 // bytes; zero until installed
	installCodec sync.Once
	bigGate      sync.Mutex // held by the one decompression past gateBytes
)

// limitDecompression installs the limited codecs (once) and raises the
// process-wide limit to limit bytes. It is process-global: every kafka-go
// decompression in the process is bounded, and when several ingesters run
// in one process the largest limit applies. Writers are unchanged. Call it
// before any goroutine uses kafka-go (New does): the table is written
// without synchronisation the first time.
func limitDecompression(limit int64) {
	for {
		old := codecLimit.Load()
		if limit <= old || codecLimit.CompareAndSwap(old, limit) {
			break
		}
	}
	installCodec.Do(func() {
		for i, c := range compress.Codecs {
			if c != nil {
				compress.Codecs[i] = limitedCodec{Codec: c, limit: &codecLimit}
			}
		}
	})
}

// limitedCodec is a codec whose readers stop with ErrBatchTooLarge after
// *limit decompressed bytes.
type limitedCodec struct {
	compress.Codec
	limit *atomic.Int64
}

func (c limitedCodec) NewReader(r io.Reader) io.ReadCloser {
	return &limitedReader{rc: c.Codec.NewReader(r), limit: c.limit.Load(), name: c.Name()}
}

// limitedReader reads at most limit bytes from rc, and fails when there is
// more. Past gateBytes it holds bigGate until it ends (an error, EOF
// included, or Close).
type limitedReader struct {
	rc    io.ReadCloser
	limit int64
	n     int64 // bytes read so far
	name  string
	held  bool // bigGate
}

func (r *limitedReader) Read(p []byte) (n int, err error) {
	if !r.held && r.n >= gateBytes {
		bigGate.Lock()
		r.held = true
	}
	defer func() {
		if err != nil {
			r.release()
		}
	}()
	// Never ask for more than one byte past the limit: the caller holds
	// at most limit+1 bytes.
	if left := r.limit - r.n + 1; int64(len(p)) > left {
		p = p[:left]
	}
	n, err = r.rc.Read(p)
	r.n += int64(n)
	if r.n > r.limit {
		return n, fmt.Errorf("%s: %w (%d bytes)", r.name, ErrBatchTooLarge, r.limit)
	}
	return n, err
}

func (r *limitedReader) Close() error {
	r.release()
	return r.rc.Close()
}

func (r *limitedReader) release() {
	if r.held {
		r.held = false
		bigGate.Unlock()
	}
}
