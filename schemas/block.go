package schemas

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secimpact/impact/internal/chconn"
)

// Block is rows of one table held column by column: a typed buffer per
// column ([]string, []int64 seconds for DateTime, []float64, ..., a null
// flag per row for Nullable columns, item ends for Array(String)) that the
// decoder appends to directly and Insert encodes straight into ClickHouse's
// Native format. Nothing is boxed per value; a Block is reused after Reset.
// Not safe for concurrent use.
type Block struct {
	t    *Table
	cols []column
	rows int
}

// column is the buffer of one column; only the slices of its type are used.
// Strings are copied into buf, one after the other, so that a block holds
// no pointer per value: the garbage collector has nothing to scan in it
// however many rows it holds, and the messages the strings were decoded
// from can be collected as soon as they are decoded.
type column struct {
	buf  []byte    // String, Nullable(String), the items of Array(String): their bytes
	end  []uint32  // the end of each string in buf
	i64  []int64   // Int64, Nullable(Int64); DateTime as Unix seconds
	f64  []float64 // Float64, Nullable(Float64)
	u8   []uint8   // UInt8, Nullable(UInt8)
	i32  []int32   // Int32
	null []bool    // Nullable: true for NULL
	ends []int32   // Array(String): end of each row's items (an index of end)
}

// addStr appends string v.
func (c *column) addStr(v string) {
	c.buf = append(c.buf, v...)
	c.end = append(c.end, uint32(len(c.buf)))
}

// strAt returns string k, pointing into buf: valid until the block is
// reset or appended to.
func (c *column) strAt(k int) string {
	start := uint32(0)
	if k > 0 {
		start = c.end[k-1]
	}
	return bytesString(c.buf[start:c.end[k]])
}

// strings fills dst with strings lo..hi (pointing into buf).
func (c *column) strings(dst []string, lo, hi int) []string {
	dst = dst[:0]
	for k := lo; k < hi; k++ {
		dst = append(dst, c.strAt(k))
	}
	return dst
}

// NewBlock returns an empty block of table t.
func NewBlock(t *Table) *Block {
	return &Block{t: t, cols: make([]column, len(t.cols))}
}

// Table is the block's table.
func (b *Block) Table() *Table { return b.t }

// Len is the number of rows.
func (b *Block) Len() int { return b.rows }

// CapBytes is the memory the block's buffers hold, used or not.
func (b *Block) CapBytes() int {
	n := 0
	for i := range b.cols {
		c := &b.cols[i]
		n += cap(c.buf) + 4*cap(c.end) + 8*cap(c.i64) + 8*cap(c.f64) + cap(c.u8) + 4*cap(c.i32) + cap(c.null) + 4*cap(c.ends)
	}
	return n
}

// Reset empties the block, keeping its buffers.
func (b *Block) Reset() {
	for i := range b.cols {
		c := &b.cols[i]
		c.buf = c.buf[:0]
		c.end = c.end[:0]
		c.i64 = c.i64[:0]
		c.f64 = c.f64[:0]
		c.u8 = c.u8[:0]
		c.i32 = c.i32[:0]
		c.null = c.null[:0]
		c.ends = c.ends[:0]
	}
	b.rows = 0
}

// GrowLike makes room for rows more rows shaped like src's (a block of
// the same table): each buffer's capacity is extended by its share of src
// scaled to rows, so that appending that many such rows does not reallocate
// (a buffer grown by doubling allocates about twice its final size and
// copies what it held at each step).
func (b *Block) GrowLike(src *Block, rows int) {
	if src.t != b.t || src.rows == 0 || rows <= 0 {
		return
	}
	scale := func(n int) int { return int(int64(n) * int64(rows) / int64(src.rows)) }
	for i := range b.cols {
		d, s := &b.cols[i], &src.cols[i]
		d.buf = slices.Grow(d.buf, scale(len(s.buf)))
		d.end = slices.Grow(d.end, scale(len(s.end)))
		d.i64 = slices.Grow(d.i64, scale(len(s.i64)))
		d.f64 = slices.Grow(d.f64, scale(len(s.f64)))
		d.u8 = slices.Grow(d.u8, scale(len(s.u8)))
		d.i32 = slices.Grow(d.i32, scale(len(s.i32)))
		d.null = slices.Grow(d.null, scale(len(s.null)))
		d.ends = slices.Grow(d.ends, scale(len(s.ends)))
	}
}

// AppendBlock appends the rows of src, a block of the same table.
func (b *Block) AppendBlock(src *Block) error {
	if src.t != b.t {
		return fmt.Errorf("schemas: append a block of %s to a block of %s", src.t.name, b.t.name)
	}
	for i := range b.cols {
		d, s := &b.cols[i], &src.cols[i]
		if b.t.cols[i].typ == tStrings {
			items := int32(len(d.end))
			for _, e := range s.ends {
				d.ends = append(d.ends, items+e)
			}
		}
		base := uint32(len(d.buf))
		d.buf = append(d.buf, s.buf...)
		for _, e := range s.end {
			d.end = append(d.end, base+e)
		}
		d.i64 = append(d.i64, s.i64...)
		d.f64 = append(d.f64, s.f64...)
		d.u8 = append(d.u8, s.u8...)
		d.i32 = append(d.i32, s.i32...)
		d.null = append(d.null, s.null...)
	}
	b.rows += src.rows
	return nil
}

// appendRow appends row r of src (a block of the same table).
func (b *Block) appendRow(src *Block, r int) {
	for i := range b.cols {
		d, s := &b.cols[i], &src.cols[i]
		typ := b.t.cols[i].typ
		switch typ {
		case tString, tNullString:
			d.addStr(s.strAt(r))
		case tDateTime, tNullDateTime, tInt64, tNullInt64:
			d.i64 = append(d.i64, s.i64[r])
		case tFloat64, tNullFloat64:
			d.f64 = append(d.f64, s.f64[r])
		case tUInt8, tNullUInt8:
			d.u8 = append(d.u8, s.u8[r])
		case tInt32:
			d.i32 = append(d.i32, s.i32[r])
		case tStrings:
			start := int32(0)
			if r > 0 {
				start = s.ends[r-1]
			}
			for k := start; k < s.ends[r]; k++ {
				d.addStr(s.strAt(int(k)))
			}
			d.ends = append(d.ends, int32(len(d.end)))
		}
		if typ.nullable() {
			d.null = append(d.null, s.null[r])
		}
	}
	b.rows++
}

// String returns the value of a String column at row, false when the
// column is not a String column of the table or row is out of range.
func (b *Block) String(row int, column string) (string, bool) {
	i := b.t.column(column)
	if i < 0 || b.t.cols[i].typ != tString || row < 0 || row >= b.rows {
		return "", false
	}
	return strings.Clone(b.cols[i].strAt(row)), true
}

// SetString sets the value of a String column at row; false as String.
func (b *Block) SetString(row int, name, v string) bool {
	i := b.t.column(name)
	if i < 0 || b.t.cols[i].typ != tString || row < 0 || row >= b.rows {
		return false
	}
	// Rare (the dead-letter last resort): the column is rebuilt.
	c := &b.cols[i]
	var nc column
	for k := range c.end {
		if k == row {
			nc.addStr(v)
		} else {
			nc.addStr(c.strAt(k))
		}
	}
	c.buf, c.end = nc.buf, nc.end
	return true
}

// maxPartitionsPerInsert bounds the partitions (years of event_time) one
// INSERT touches. Current ClickHouse refuses an INSERT block spanning more
// than max_partitions_per_insert_block partitions (default 100; 18.16 has
// no such limit), and a refused batch would be retried for ever. Half the
// default leaves room for the server's time zone moving a year boundary.
const maxPartitionsPerInsert = 50

// Insert writes the block's rows to its table with ins: INSERTs naming the
// table's columns (server-filled columns such as inserted_at are left
// out), the rows in ClickHouse's Native format encoded from the block's
// buffers as they are sent (see AppendNative). One INSERT, unless the rows
// span more than 50 years of event_time (then one per group of 50 years).
func (b *Block) Insert(ctx context.Context, ins *chconn.Inserter) error {
	if b.rows == 0 {
		return nil
	}
	chunks := b.partitionChunks(maxPartitionsPerInsert)
	if chunks == nil {
		chunks = []*Block{b}
	}
	for _, c := range chunks {
		if err := ins.Insert(ctx, b.t.query, c); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", c.rows, b.t.name, err)
		}
	}
	return nil
}

// partitionChunks splits a block of a table partitioned by
// toYear(event_time) into blocks spanning at most limit years each,
// keeping row order within each. nil means one chunk: the block itself
// (always inside the default time window).
func (b *Block) partitionChunks(limit int) []*Block {
	col := b.t.year
	if col < 0 {
		return nil
	}
	secs := b.cols[col].i64
	first, last, _ := b.years()
	if last-first < limit {
		return nil
	}
	used := make([]bool, last-first+1)
	for _, s := range secs {
		used[year(s)-first] = true
	}
	group := make([]int, len(used)) // year - first -> chunk
	n := 0
	for y, u := range used {
		if u {
			group[y] = n / limit
			n++
		}
	}
	if n <= limit {
		return nil
	}
	chunks := make([]*Block, (n+limit-1)/limit)
	for i := range chunks {
		chunks[i] = NewBlock(b.t)
	}
	for r, s := range secs {
		chunks[group[year(s)-first]].appendRow(b, r)
	}
	return chunks
}

func year(s int64) int { return time.Unix(s, 0).UTC().Year() }

// years returns the first and last year of event_time in the block's
// rows; false when it has none or its table no event_time.
func (b *Block) years() (first, last int, ok bool) {
	if b.t.year < 0 || b.rows == 0 {
		return 0, 0, false
	}
	secs := b.cols[b.t.year].i64
	lo, hi := secs[0], secs[0]
	for _, s := range secs {
		lo, hi = min(lo, s), max(hi, s)
	}
	return year(lo), year(hi), true
}
