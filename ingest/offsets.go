package ingest

import "slices"

// offsets is the commit bookkeeping of one generation's partitions (in the
// spirit of Redpanda Connect's checkpointer): per partition, how far
// messages were read, and the first offset of every batch that holds rows
// of the partition and is not yet stored. The commit offset is the lowest
// of those first offsets, or the next offset to read when no batch holds
// any: every message below it is stored (or dead-lettered), whichever
// tables are slow, and offsets a fetch skipped (compaction, transaction
// markers) need nothing stored. Not safe for concurrent use.
type offsets struct {
	next []int64   // per partition: offset after the last message read; -1 none
	held [][]int64 // per partition: first offsets of the batches in flight
}

// reset starts a generation of n partitions; nothing may be held.
func (o *offsets) reset(n int) {
	o.next = make([]int64, n)
	for i := range o.next {
		o.next[i] = -1
	}
	o.held = make([][]int64, n)
}

// read records that the messages of partition p below next were read and
// their rows handed over (held by batches, or none to store).
func (o *offsets) read(p int, next int64) {
	o.next[p] = max(o.next[p], next)
}

// hold records that a batch holds rows of partition p from offset on.
func (o *offsets) hold(p int, offset int64) {
	o.held[p] = append(o.held[p], offset)
}

// release records that a batch holding rows of p from offset on is stored.
func (o *offsets) release(p int, offset int64) {
	if i := slices.Index(o.held[p], offset); i >= 0 {
		o.held[p] = slices.Delete(o.held[p], i, i+1)
	}
}

// commits returns, per partition, the offset up to which (exclusive)
// every message is stored: the offset to commit; -1 when nothing was read.
func (o *offsets) commits() []int64 {
	out := make([]int64, len(o.next))
	for p, next := range o.next {
		out[p] = next
		for _, h := range o.held[p] {
			out[p] = min(out[p], h)
		}
	}
	return out
}

// pending reports whether any batch holds rows.
func (o *offsets) pending() bool {
	for _, h := range o.held {
		if len(h) > 0 {
			return true
		}
	}
	return false
}
