package migrations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A Lease is a named lease lock held by this process: the same lock the
// migration runner takes (lock.go), under another name, so that other
// jobs that must not run twice at once (`impact transform`) are kept
// apart across processes and hosts without a second lock implementation.
// It lives in schema_migrations_lock, which Apply creates (on a cluster,
// replicated to every server); a held lease is renewed in the background
// until Release, and one not renewed for a minute (its process died)
// stops counting.
type Lease struct {
	conn driver.Conn
	l    *lock
}

// Holder names the process holding a lease: Owner is
// "host/pid/random", Since when it took the lease (server time, UTC).
type Holder struct {
	Owner string
	Since time.Time
}

// ErrLeaseHeld is returned (wrapped in a *HeldError) by AcquireLease when
// another process holds the lease and the caller did not ask to wait.
var ErrLeaseHeld = errors.New("lease held by another process")

// HeldError says who holds the lease a caller could not take.
type HeldError struct {
	Name   string
	Holder Holder
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("the %s lock is held by %s since %s UTC", e.Name, e.Holder.Owner, e.Holder.Since.UTC().Format(time.DateTime))
}

func (e *HeldError) Unwrap() error { return ErrLeaseHeld }

// LeaseOptions configure AcquireLease. The zero value tries once.
type LeaseOptions struct {
	// Wait makes AcquireLease poll until the lease is free (or ctx ends)
	// instead of returning a *HeldError.
	Wait bool
	// OnWait, when set, is called once per holder the caller waits for,
	// so that a command can say whom it is waiting for.
	OnWait func(Holder)
}

// AcquireLease takes the lease lock called name (a plain identifier;
// "migrate" is the migration runner's) on the database of conn. Taking it
// costs a settle delay of about a second, the price of a lock without
// compare-and-set (see lock.go).
func AcquireLease(ctx context.Context, conn driver.Conn, name string, opts LeaseOptions) (*Lease, error) {
	if !plainIdent.MatchString(name) {
		return nil, fmt.Errorf("lease name %q: must be letters, digits and underscores", name)
	}
	var last string
	for {
		l, ok, holder, err := tryLock(ctx, conn, name)
		if err != nil {
			return nil, err
		}
		if ok {
			return &Lease{conn: conn, l: l}, nil
		}
		if !opts.Wait {
			return nil, &HeldError{Name: name, Holder: holder}
		}
		if opts.OnWait != nil && holder.Owner != last {
			opts.OnWait(holder)
		}
		last = holder.Owner
		if err := sleep(ctx, lockPoll); err != nil {
			return nil, fmt.Errorf("wait for the %s lock held by %s: %w", name, holder.Owner, err)
		}
	}
}

// Release gives the lease up and stops renewing it. It still runs when
// ctx is cancelled (bounded by its own timeout), so a cancelled job frees
// its lease.
func (l *Lease) Release(ctx context.Context) error {
	return l.l.unlock(ctx, l.conn)
}
