package schemas

import (
	"context"
	"fmt"

	"github.com/secimpact/impact/internal/chconn"
)

// Blocks is rows of one table held in several blocks, in order: a batch
// that grows by appending blocks of bounded size rather than by growing
// one block's buffers. Growing a buffer copies it, and a fresh buffer of
// megabytes is zeroed by the runtime first: in ingest's batches that was
// a quarter of the CPU (2M-event bench). Blocks of bounded size are reused
// whole instead. Every block must be of the same table.
type Blocks []*Block

// Len is the number of rows.
func (bs Blocks) Len() int {
	n := 0
	for _, b := range bs {
		n += b.rows
	}
	return n
}

// locate returns the block holding row r and r's index in it (nil when r
// is out of range).
func (bs Blocks) locate(r int) (*Block, int) {
	if r < 0 {
		return nil, 0
	}
	for _, b := range bs {
		if r < b.rows {
			return b, r
		}
		r -= b.rows
	}
	return nil, 0
}

// each calls f for the part of every block that rows lo..hi cover.
func (bs Blocks) each(lo, hi int, f func(b *Block, lo, hi int)) {
	base := 0
	for _, b := range bs {
		if base >= hi {
			return
		}
		if end := base + b.rows; end > lo {
			f(b, max(lo, base)-base, min(hi, end)-base)
		}
		base += b.rows
	}
}

// AppendNative appends rows lo..hi to dst in the Native format: one
// Native block per block they fall in.
func (bs Blocks) AppendNative(dst []byte, lo, hi int) []byte {
	bs.each(lo, hi, func(b *Block, lo, hi int) { dst = b.AppendNative(dst, lo, hi) })
	return dst
}

// NativeSize is about the bytes AppendNative writes for rows lo..hi.
func (bs Blocks) NativeSize(lo, hi int) int {
	n := 0
	bs.each(lo, hi, func(b *Block, lo, hi int) { n += b.NativeSize(lo, hi) })
	return n
}

// String returns the value of a String column at row, as Block.String.
func (bs Blocks) String(row int, column string) (string, bool) {
	b, r := bs.locate(row)
	if b == nil {
		return "", false
	}
	return b.String(r, column)
}

// SetString sets the value of a String column at row, as Block.SetString.
func (bs Blocks) SetString(row int, column, v string) bool {
	b, r := bs.locate(row)
	if b == nil {
		return false
	}
	return b.SetString(r, column, v)
}

// Insert writes the rows to their table with ins, as Block.Insert: one
// INSERT, unless they span more than 50 years of event_time.
func (bs Blocks) Insert(ctx context.Context, ins *chconn.Inserter) error {
	rows := bs.Len()
	if rows == 0 {
		return nil
	}
	if len(bs) == 1 {
		return bs[0].Insert(ctx, ins)
	}
	t := bs[0].t
	for _, b := range bs[1:] {
		if b.t != t {
			return fmt.Errorf("schemas: insert blocks of %s and %s together", t.name, b.t.name)
		}
	}
	if bs.yearSpan() >= maxPartitionsPerInsert {
		// Rare (a backfill of decades): one block, split by years.
		one := NewBlock(t)
		for _, b := range bs {
			_ = one.AppendBlock(b) // same table, checked above
		}
		return one.Insert(ctx, ins)
	}
	if err := ins.Insert(ctx, t.query, bs); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", rows, t.name, err)
	}
	return nil
}

// yearSpan is the last year of event_time less the first, over every
// block's rows (0 for a table without event_time).
func (bs Blocks) yearSpan() int {
	first, last := 0, 0
	seen := false
	for _, b := range bs {
		lo, hi, ok := b.years()
		if !ok {
			continue
		}
		if !seen || lo < first {
			first = lo
		}
		if !seen || hi > last {
			last = hi
		}
		seen = true
	}
	return last - first
}

// SplitBlock returns b's rows as n blocks (fewer when b has fewer rows),
// copied in order: for tests of code that takes Blocks.
func SplitBlock(b *Block, n int) Blocks {
	n = max(1, min(n, b.rows))
	out := make(Blocks, n)
	for i := range out {
		out[i] = NewBlock(b.t)
		for r := i * b.rows / n; r < (i+1)*b.rows/n; r++ {
			out[i].appendRow(b, r)
		}
	}
	return out
}
