package transform

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
)

// figureMemo keeps, from one computation of the figures to the next in the
// same process (Options.Cache), the rows a family computed for each
// period, under a fingerprint of everything those rows are computed from.
// An incremental refresh changes the items of a few periods (new deals
// close in the latest month, so its quarter, year and "all" change); the
// rows of every other period are taken from the memo instead of being
// computed again (the cluster-robust differences, the medians and the
// services' bootstrap of each period). With one year of data the periods
// that change hold half the items; with several years, a small share.
//
// The key is content, not table state: a period whose items (in the
// order the family reads them), options and family-wide inputs hash the
// same gets the rows computed from them before, whatever refresh, table
// or process state produced them. The figures are deterministic (the
// bootstraps are seeded), so the rows are the ones computing them again
// would give, bit for bit; the fingerprint is a 64-bit maphash with a
// seed of the process, so two different inputs share one with
// probability 2^-64. Each computation keeps only the rows it used or
// computed (next), so the memo holds one refresh's rows.
type figureMemo struct {
	seed maphash.Seed
	mu   sync.Mutex
	prev map[memoKey][]Stat // the last completed computation's rows
	next map[memoKey][]Stat // this computation's
	hits int                // periods whose rows came from prev
}

type memoKey struct {
	family, period string
	sum            uint64
}

// nextMemo starts a computation that may reuse the rows of last (nil:
// none).
func nextMemo(last *figureMemo) *figureMemo {
	m := &figureMemo{next: map[memoKey][]Stat{}}
	if last == nil {
		m.seed = maphash.MakeSeed()
		return m
	}
	last.mu.Lock()
	defer last.mu.Unlock()
	m.seed, m.prev = last.seed, last.next
	return m
}

// Hits reports how many periods' rows were reused.
func (m *figureMemo) Hits() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits
}

// periodSum combines the fingerprints of items (in this order) with the
// family-wide inputs salt into a period's fingerprint.
func (m *figureMemo) periodSum(salt string, items []int, itemSum []uint64) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(salt)
	var b [8 * 64]byte
	for len(items) > 0 {
		k := min(len(items), 64)
		for j, i := range items[:k] {
			binary.LittleEndian.PutUint64(b[8*j:], itemSum[i])
		}
		h.Write(b[:8*k])
		items = items[k:]
	}
	return h.Sum64()
}

// periodSetSum is periodSum for a family whose figures do not depend on
// the order of its items (the deployments' groups come in the order the
// server and the cache give them): the items' fingerprints are summed,
// and their squares, so any order of the same items gives the same sum.
func (m *figureMemo) periodSetSum(salt string, items []int, itemSum []uint64) uint64 {
	var s1, s2 uint64
	for _, i := range items {
		v := itemSum[i]
		s1 += v
		s2 += v * v
	}
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(salt)
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(len(items)))
	binary.LittleEndian.PutUint64(b[8:], s1)
	binary.LittleEndian.PutUint64(b[16:], s2)
	h.Write(b[:])
	return h.Sum64()
}

// A recalled period is a period's key in the memo and, when the memo
// held it, its rows.
type recalled struct {
	key  memoKey
	rows []Stat
	hit  bool
}

// recall looks up each period of ps in the memo by its fingerprint (sum),
// before the family prepares anything, so the preparation can leave out
// the periods found (their need is false). Without a memo every period is
// needed.
func (c *computer) recall(family string, ps []periodItems, sum func(p periodItems) uint64) (rs []recalled, need func(pi int) bool) {
	m := c.memo
	rs = make([]recalled, len(ps))
	if m == nil {
		return rs, func(int) bool { return true }
	}
	for pi, p := range ps {
		rs[pi].key = memoKey{family: family, period: p.Name, sum: sum(p)}
	}
	m.mu.Lock()
	for pi := range rs {
		r := &rs[pi]
		if r.rows, r.hit = m.prev[r.key]; r.hit {
			m.next[r.key] = r.rows
			m.hits++
		}
	}
	m.mu.Unlock()
	return rs, func(pi int) bool { return !rs[pi].hit }
}

// reuse adds the rows of a period the memo held and reports whether it
// did; else the family computes the period's rows from len(c.out) on and
// calls keep with that start.
func (c *computer) reuse(r recalled) bool {
	if r.hit {
		c.out = append(c.out, r.rows...)
	}
	return r.hit
}

// keep stores the rows a family added for a period since start.
func (c *computer) keep(r recalled, start int) {
	if c.memo == nil {
		return
	}
	rows := slices.Clone(c.out[start:])
	c.memo.mu.Lock()
	c.memo.next[r.key] = rows
	c.memo.mu.Unlock()
}

// itemHasher fingerprints one item of a family's input: its fields are
// written in a fixed order, each of a fixed width.
type itemHasher struct {
	h   maphash.Hash
	buf [8]byte
}

func newItemHasher(m *figureMemo) *itemHasher {
	x := &itemHasher{}
	x.h.SetSeed(m.seed)
	return x
}

func (x *itemHasher) reset() { x.h.Reset() }

func (x *itemHasher) u64(v uint64) {
	binary.LittleEndian.PutUint64(x.buf[:], v)
	x.h.Write(x.buf[:])
}

func (x *itemHasher) f64(v float64) { x.u64(math.Float64bits(v)) }

func (x *itemHasher) flag(b bool) {
	if b {
		x.h.WriteByte(1)
	} else {
		x.h.WriteByte(0)
	}
}

func (x *itemHasher) sum() uint64 { return x.h.Sum64() }

// nameSums fingerprints each of names (a family numbers its keys by
// their rank among all names, which new names shift: an item is
// fingerprinted by its name's).
func (m *figureMemo) nameSums(names []string) []uint64 {
	out := make([]uint64, len(names))
	for i, s := range names {
		out[i] = maphash.String(m.seed, s)
	}
	return out
}

// optionsSalt is the part of every fingerprint that the options give:
// rows computed under other options are never reused.
func (c *computer) optionsSalt() string {
	return fmt.Sprintf("%+v|%v|%v|%d", c.o, c.r, c.conf, c.minN)
}
