package schemas

import (
	"encoding/binary"
	"math"
)

// ClickHouse's Native format, the body of `INSERT ... FORMAT Native` over
// the HTTP interface: a block is the column count and the row count
// (unsigned LEB128), then for each column its name and type (strings:
// length as LEB128, then the bytes) and its values one after the other:
// fixed-width numbers little-endian, DateTime as UInt32 Unix seconds,
// String as length + bytes, Nullable(T) as one byte per row (1 for NULL)
// followed by T's values (a placeholder where NULL), Array(T) as the
// UInt64 end offset of each row's items followed by the items. Native is
// ClickHouse's own columnar format: the server copies it into its columns
// without parsing text, and the block's buffers map onto it one to one.

// AppendNative appends rows lo..hi of the block to dst as one Native block
// and returns the extended slice. It allocates only to grow dst.
func (b *Block) AppendNative(dst []byte, lo, hi int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b.cols)))
	dst = binary.AppendUvarint(dst, uint64(hi-lo))
	for i := range b.cols {
		def := &b.t.cols[i]
		dst = appendNativeString(dst, def.name)
		dst = appendNativeString(dst, colTypeNames[def.typ])
		if hi > lo { // no rows: no bytes of values (the format's rule)
			dst = b.cols[i].appendNative(dst, def.typ, lo, hi)
		}
	}
	return dst
}

// NativeSize is about the bytes AppendNative writes for rows lo..hi (exact
// but for the LEB128 lengths, counted as one byte each): to choose how
// many rows go in one block.
func (b *Block) NativeSize(lo, hi int) int {
	n := 0
	for i := range b.cols {
		c := &b.cols[i]
		switch typ := b.t.cols[i].typ; typ {
		case tString, tNullString:
			n += c.strBytes(lo, hi) + (hi - lo)
		case tStrings:
			first, last := c.itemRange(lo, hi)
			n += 8*(hi-lo) + c.strBytes(first, last) + (last - first)
		default:
			n += (hi - lo) * nativeWidth[typ]
		}
		if b.t.cols[i].typ.nullable() {
			n += hi - lo
		}
	}
	return n
}

// nativeWidth is the byte width of a fixed-width type's values.
var nativeWidth = [nColTypes]int{
	tDateTime: 4, tNullDateTime: 4, tFloat64: 8, tNullFloat64: 8, tInt64: 8, tNullInt64: 8,
	tUInt8: 1, tNullUInt8: 1, tInt32: 4,
}

func (c *column) appendNative(dst []byte, typ colType, lo, hi int) []byte {
	if typ.nullable() {
		for _, null := range c.null[lo:hi] {
			if null {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		}
	}
	switch typ {
	case tString, tNullString:
		dst = c.appendNativeStrings(dst, lo, hi)
	case tDateTime, tNullDateTime:
		for _, s := range c.i64[lo:hi] {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(s))
		}
	case tInt64, tNullInt64:
		for _, v := range c.i64[lo:hi] {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	case tFloat64, tNullFloat64:
		for _, v := range c.f64[lo:hi] {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
	case tUInt8, tNullUInt8:
		dst = append(dst, c.u8[lo:hi]...)
	case tInt32:
		for _, v := range c.i32[lo:hi] {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
	case tStrings:
		first, last := c.itemRange(lo, hi)
		for _, end := range c.ends[lo:hi] {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(int(end)-first))
		}
		dst = c.appendNativeStrings(dst, first, last)
	}
	return dst
}

// appendNativeStrings appends strings lo..hi, each as length + bytes.
func (c *column) appendNativeStrings(dst []byte, lo, hi int) []byte {
	start := uint32(0)
	if lo > 0 {
		start = c.end[lo-1]
	}
	for _, end := range c.end[lo:hi] {
		dst = binary.AppendUvarint(dst, uint64(end-start))
		dst = append(dst, c.buf[start:end]...)
		start = end
	}
	return dst
}

// strBytes is the bytes of strings lo..hi.
func (c *column) strBytes(lo, hi int) int {
	if hi <= lo {
		return 0
	}
	start := uint32(0)
	if lo > 0 {
		start = c.end[lo-1]
	}
	return int(c.end[hi-1] - start)
}

// itemRange is the items (indexes of end) of Array(String) rows lo..hi.
func (c *column) itemRange(lo, hi int) (first, last int) {
	if lo > 0 {
		first = int(c.ends[lo-1])
	}
	last = first
	if hi > lo {
		last = int(c.ends[hi-1])
	}
	return first, last
}

func appendNativeString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
