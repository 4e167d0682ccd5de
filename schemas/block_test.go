package schemas

import (
	"fmt"
	"testing"
	"time"
)

// yearsBlock is a block of events_raw with one row per year, interleaved:
// kafka_offset is the row's original position.
func yearsBlock(n int) *Block {
	var r Rows
	b := r.Block(EventsRaw)
	for i := range n {
		year := 1971 + (i*7)%135 // 1971..2105, interleaved
		c := b.cols
		for k := range c {
			switch b.t.cols[k].typ {
			case tString:
				c[k].addStr("s")
			case tInt32:
				c[k].i32 = append(c[k].i32, 0)
			case tInt64:
				c[k].i64 = append(c[k].i64, int64(i))
			case tDateTime:
				c[k].i64 = append(c[k].i64, time.Date(year, 6, 1, 0, 0, 0, 0, time.UTC).Unix())
			}
		}
		b.rows++
	}
	return b
}

// TestPartitionChunks: a batch spanning more years than one INSERT may
// touch is split into chunks of at most the limit, every row kept once and
// in order within its chunk; other batches and tables stay whole.
func TestPartitionChunks(t *testing.T) {
	b := yearsBlock(300)
	chunks := b.partitionChunks(50)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks for 135 years at 50 per INSERT, want 3", len(chunks))
	}
	seen := map[int64]bool{}
	for _, c := range chunks {
		years := map[int]bool{}
		last := int64(-1)
		for r := range c.Len() {
			years[cell(c, r, 3).(time.Time).Year()] = true
			i := cell(c, r, rawLineage+2).(int64)
			if seen[i] || i < last {
				t.Fatalf("row %d repeated or out of order", i)
			}
			seen[i], last = true, i
		}
		if len(years) > 50 {
			t.Errorf("chunk spans %d years", len(years))
		}
	}
	if len(seen) != 300 {
		t.Errorf("%d rows after splitting, want 300", len(seen))
	}
	if c := yearsBlock(40).partitionChunks(50); c != nil {
		t.Errorf("a batch within the limit was split")
	}
	var r Rows
	rej := r.Block(IngestRejects)
	rej.rows = 1
	if c := rej.partitionChunks(50); c != nil {
		t.Errorf("a table without event_time was split")
	}
}

// TestAppendBlock: appending a block copies its rows, arrays included,
// after the existing ones.
func TestAppendBlock(t *testing.T) {
	exs := loadExamples(t)
	var a, b Rows
	for i, ex := range exs {
		dst := &a
		if i%2 == 1 {
			dst = &b
		}
		if _, rej := contractDecoder.AppendMessage(dst, ex.structured, nil, Lineage{Offset: int64(i)}); rej != nil {
			t.Fatal(rej)
		}
	}
	var all Rows
	for _, src := range []*Rows{&a, &b} {
		for i, blk := range src.Blocks() {
			if err := all.Blocks()[i].AppendBlock(blk); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := all.Block(EventsRaw).AppendBlock(a.Blocks()[1]); err == nil {
		t.Error("a block of another table was appended")
	}
	for i, blk := range all.Blocks() {
		n := a.Blocks()[i].Len()
		for r := range blk.Len() {
			src, sr := a.Blocks()[i], r
			if r >= n {
				src, sr = b.Blocks()[i], r-n
			}
			for c := range blk.cols {
				if got, want := cell(blk, r, c), cell(src, sr, c); !equalCell(got, want) {
					t.Fatalf("%s row %d col %s: %v, want %v", blk.t.name, r, blk.t.cols[c].name, got, want)
				}
			}
		}
	}
}

// TestGrowLike: after GrowLike(src, n*src.Len()), appending src n times
// reallocates no buffer of any table's block, arrays and nullables
// included; a block of another table or an empty src changes nothing.
func TestGrowLike(t *testing.T) {
	exs := loadExamples(t)
	var src Rows
	for i, ex := range exs {
		if _, rej := contractDecoder.AppendMessage(&src, ex.structured, nil, Lineage{Offset: int64(i)}); rej != nil {
			t.Fatal(rej)
		}
	}
	for _, times := range []int{1, 3, 10} {
		for _, blk := range src.Blocks() {
			if blk.Len() == 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s x%d", blk.t.name, times), func(t *testing.T) {
				dst := NewBlock(blk.t)
				dst.GrowLike(blk, times*blk.Len())
				caps := dst.CapBytes()
				for range times {
					if err := dst.AppendBlock(blk); err != nil {
						t.Fatal(err)
					}
				}
				if got := dst.CapBytes(); got != caps {
					t.Errorf("buffers grew from %d to %d bytes while appending what was reserved", caps, got)
				}
				if dst.Len() != times*blk.Len() {
					t.Errorf("%d rows, want %d", dst.Len(), times*blk.Len())
				}
			})
		}
	}
	raw := NewBlock(EventsRaw)
	for _, blk := range src.Blocks() {
		if blk.t != EventsRaw && blk.Len() > 0 {
			raw.GrowLike(blk, 100)
		}
	}
	raw.GrowLike(NewBlock(EventsRaw), 100)
	if n := raw.CapBytes(); n != 0 {
		t.Errorf("a block of another table or an empty one reserved %d bytes", n)
	}
}

func equalCell(a, b any) bool {
	as, ok := a.([]string)
	if !ok {
		return a == b
	}
	bs := b.([]string)
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// TestBlocks: rows held in several blocks count, read, change and encode
// as the same rows in one block; a range across blocks encodes as one
// Native block per block it touches.
func TestBlocks(t *testing.T) {
	b := yearsBlock(300)
	bs := SplitBlock(b, 4)
	if len(bs) != 4 || bs.Len() != 300 || bs[0].Len() != 75 {
		t.Fatalf("split into %d blocks, %d rows, first %d; want 4, 300, 75", len(bs), bs.Len(), bs[0].Len())
	}
	for _, r := range [][2]int{{0, 300}, {10, 20}, {70, 80}, {74, 76}, {75, 150}, {0, 1}, {299, 300}, {140, 230}} {
		lo, hi := r[0], r[1]
		var want []byte
		size := 0
		for k := 0; k < 4; k++ { // the parts of lo..hi in each block of 75 rows
			a, z := max(lo, 75*k), min(hi, 75*(k+1))
			if a < z {
				want = b.AppendNative(want, a, z)
				size += b.NativeSize(a, z)
			}
		}
		if got := bs.AppendNative(nil, lo, hi); string(got) != string(want) {
			t.Errorf("rows %d..%d: Native bytes differ from the single block's parts", lo, hi)
		}
		if got := bs.NativeSize(lo, hi); got != size {
			t.Errorf("rows %d..%d: NativeSize %d, want %d", lo, hi, got, size)
		}
	}
	for _, r := range []int{0, 74, 75, 299} {
		if !bs.SetString(r, "event_id", "changed") {
			t.Fatalf("SetString row %d refused", r)
		}
		if v, ok := bs.String(r, "event_id"); !ok || v != "changed" {
			t.Errorf("row %d: %q after SetString", r, v)
		}
	}
	for _, r := range []int{1, 73, 76, 298} {
		if v, _ := bs.String(r, "event_id"); v != "s" {
			t.Errorf("row %d: %q, changed by SetString of another row", r, v)
		}
	}
	if _, ok := bs.String(300, "event_id"); ok {
		t.Error("row 300 of 300 read")
	}
	if got := bs.yearSpan(); got != 134 {
		t.Errorf("yearSpan %d, want 134 (1971..2105)", got)
	}
	if got := SplitBlock(yearsBlock(2), 5); len(got) != 2 {
		t.Errorf("2 rows split into %d blocks", len(got))
	}
}
