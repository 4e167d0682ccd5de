package ingest

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// budget is a counting semaphore over bytes: fetchers acquire what a message
// will hold in memory until its rows are in ClickHouse, the flushers release
// it. Fetching therefore waits for the writer whatever the backlog.
type budget struct {
	mu   sync.Mutex
	cap  int64
	used int64
	wait chan struct{} // closed and replaced on every release
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

// acquire blocks until n bytes (clamped) are available or ctx is done.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used+n <= b.cap || b.used == 0 {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		if b.wait == nil {
			b.wait = make(chan struct{})
		}
		w := b.wait
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w:
		}
	}
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.wait != nil {
		close(b.wait)
		b.wait = nil
	}
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
