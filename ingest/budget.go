package ingest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// budget is a counting semaphore over bytes: fetchers acquire what a message
// will hold in memory until its rows are in ClickHouse, the flushers release
// it. Fetching therefore waits for the writer whatever the backlog. Waiters
// are served in arrival order, so no partition reader can starve the others
// by re-acquiring first.
type budget struct {
	mu      sync.Mutex
	cap     int64
	used    int64
	waiters []*waiter
}

type waiter struct {
	n       int64
	ready   chan struct{}
	granted bool
}

func newBudget(capacity int64) *budget { return &budget{cap: capacity} }

// clamp limits n to the capacity so a single huge message can still pass
// (alone) instead of waiting forever.
func (b *budget) clamp(n int64) int64 {
	if n > b.cap {
		return b.cap
	}
	return n
}

// fits reports whether n bytes can be taken now. Called with mu held.
func (b *budget) fits(n int64) bool { return b.used+n <= b.cap || b.used == 0 }

// acquire blocks until n bytes (clamped) are available, after every earlier
// waiter, or ctx is done.
func (b *budget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.granted { // granted while ctx ended: give it back
		b.used -= n
	} else if i := slices.Index(b.waiters, w); i >= 0 {
		b.waiters = slices.Delete(b.waiters, i, i+1)
	}
	b.grant()
	return ctx.Err()
}

// tryAcquire takes n bytes (clamped) if they are available now and nobody
// waits; it never blocks.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.used += n
		return true
	}
	return false
}

// grant serves waiters in order while they fit. Called with mu held.
func (b *budget) grant() {
	for len(b.waiters) > 0 && b.fits(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.used += w.n
		w.granted = true
		close(w.ready)
	}
}

// force takes n bytes at once, even past the capacity: for memory already
// allocated (a decompressed record batch larger than its reservation).
// Later acquires wait until it is released.
func (b *budget) force(n int64) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the delay before the next attempt.
func (b *backoff) next() time.Duration {
	d := b.min << min(b.attempt, 30)
	if d <= 0 || d > b.max {
		d = b.max
	}
	b.attempt++
	// Jitter in [d/2, d): spreads reconnect storms of several ingesters
	// without ever waiting less than half the step.
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
