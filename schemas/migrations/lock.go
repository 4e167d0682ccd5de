package migrations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The lock: ClickHouse 18.16 has no transactions and no atomic
// compare-and-set, so runners contend by writing a row each into
// schema_migrations_lock and, after a settle delay, reading all live rows
// of the same lock name: the one with the smallest (acquired_at, owner)
// holds the lock. Several named locks share the table (the migration
// runner's is "migrate"; `impact transform` takes "transform"): a row's
// owner starts with its lock's name and a slash.
//
// Why the delay makes it safe: acquired_at is the server's now() in
// seconds. If B's row is not yet visible when A reads, B inserted more than
// lockSettle after A, so B's acquired_at is a later second than A's and B,
// which does see A's row, defers to A. Rows seen by both give both the same
// answer. A holder heartbeats its row; a row whose heartbeat is older than
// lockLease (a crashed runner) stops counting.
const (
	lockSettle    = 1100 * time.Millisecond // > 1s, the resolution of DateTime
	lockLease     = 60 * time.Second
	lockHeartbeat = 10 * time.Second
	lockPoll      = 500 * time.Millisecond
)

// migrateLock is the lock name of the migration runner.
const migrateLock = "migrate"

type lock struct {
	name  string
	owner string
	stop  chan struct{}
	done  sync.WaitGroup
}

func newOwner(name string) string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand docs)
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s/%d/%s", name, host, os.Getpid(), hex.EncodeToString(b))
}

// tryLock attempts to take the lock called name once. ok is false when
// another runner holds it (holder names it: owner and since when); the
// caller waits and retries.
func tryLock(ctx context.Context, conn driver.Conn, name string) (l *lock, ok bool, holder Holder, err error) {
	owner := newOwner(name)
	if err := conn.Exec(ctx, sqlTakeLock, owner); err != nil {
		return nil, false, holder, fmt.Errorf("take %s lock: %w", name, err)
	}
	if err := sleep(ctx, lockSettle); err != nil {
		return nil, false, holder, fmt.Errorf("take %s lock: %w", name, err)
	}
	err = conn.QueryRow(ctx, sqlLockHolder, int(lockLease/time.Second), name+"/").Scan(&holder.Owner, &holder.Since)
	if err != nil {
		return nil, false, holder, fmt.Errorf("read %s lock: %w", name, err)
	}
	holder.Owner = strings.TrimPrefix(holder.Owner, name+"/")
	l = &lock{name: name, owner: owner, stop: make(chan struct{})}
	if holder.Owner != strings.TrimPrefix(owner, name+"/") {
		// Withdraw, so our row does not block the holder's successors.
		return nil, false, holder, l.release(ctx, conn)
	}
	l.done.Add(1)
	go l.heartbeat(conn)
	return l, true, holder, nil
}

func (l *lock) heartbeat(conn driver.Conn) {
	defer l.done.Done()
	t := time.NewTicker(lockHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), lockHeartbeat)
			// A failed heartbeat is retried on the next tick; after
			// lockLease without one, others may take over, which is the
			// point of the lease.
			_ = l.beat(ctx, conn)
			cancel()
		}
	}
}

// beat renews the lock row's heartbeat.
func (l *lock) beat(ctx context.Context, conn driver.Conn) error {
	if err := conn.Exec(ctx, sqlRenewLock, l.owner); err != nil {
		return fmt.Errorf("renew %s lock: %w", l.name, err)
	}
	return nil
}

// unlock stops the heartbeat and releases the lock.
func (l *lock) unlock(ctx context.Context, conn driver.Conn) error {
	close(l.stop)
	l.done.Wait()
	return l.release(ctx, conn)
}

// release marks the owner's row released; heartbeat_at is pushed one
// second past the last heartbeat so ReplacingMergeTree keeps this row.
func (l *lock) release(ctx context.Context, conn driver.Conn) error {
	// Not the caller's ctx alone: a cancelled migration must still free
	// the lock it holds.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, sqlReleaseLock, l.owner); err != nil {
		return fmt.Errorf("release %s lock: %w", l.name, err)
	}
	return nil
}
