package migrations

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
)

// An internal test: it drives the lock directly. It cannot use testenv
// (which imports this package), so it starts its own server.
func TestLock(t *testing.T) {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := srv.Config("locktest")
	if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	open := func() driver.Conn {
		c, err := chconn.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	conn := open()
	for _, s := range bootstrapStatements(Options{}) {
		if err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	live := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations_lock FINAL WHERE released = 0").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Three contenders at once: exactly one wins, the losers withdraw.
	const n = 3
	locks := make([]*lock, n)
	oks := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		c := open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			locks[i], oks[i], _, err = tryLock(ctx, c, migrateLock)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var holder *lock
	for i := range n {
		if oks[i] {
			if holder != nil {
				t.Fatal("two runners hold the lock")
			}
			holder = locks[i]
		}
	}
	if holder == nil {
		t.Fatal("nobody got the lock")
	}
	if got := live(); got != 1 {
		t.Errorf("%d live lock rows, want only the holder's", got)
	}

	// While held, nobody else gets it; the heartbeat keeps the row alive.
	if err := holder.beat(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, ok, h, err := tryLock(ctx, open(), migrateLock); err != nil || ok || "migrate/"+h.Owner != holder.owner {
		t.Fatalf("tryLock while held = %v, %v, %+v; want false, holder %s", ok, err, h, holder.owner)
	}
	if err := holder.unlock(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if got := live(); got != 0 {
		t.Errorf("%d live lock rows after unlock", got)
	}
	l, ok, _, err := tryLock(ctx, conn, migrateLock)
	if err != nil || !ok {
		t.Fatalf("tryLock after unlock = %v, %v", ok, err)
	}

	if err := l.unlock(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// A holder that died (no heartbeat for longer than the lease) does not
	// block others, although its row is older than theirs.
	if err := conn.Exec(ctx, `INSERT INTO schema_migrations_lock (owner, acquired_at, heartbeat_at, released)
SELECT 'migrate/dead-runner', now() - ?, now() - ?, 0`, int(3*lockLease/time.Second), int(2*lockLease/time.Second)); err != nil {
		t.Fatal(err)
	}
	l2, ok, _, err := tryLock(ctx, conn, migrateLock)
	if err != nil || !ok {
		t.Fatalf("tryLock after the holder's lease expired = %v, %v", ok, err)
	}
	if err := l2.unlock(ctx, conn); err != nil {
		t.Fatal(err)
	}

	// Named leases: another name is a separate lock; the same name is
	// refused with the holder named, or waited for.
	mig, ok, _, err := tryLock(ctx, conn, migrateLock)
	if err != nil || !ok {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	tr, err := AcquireLease(ctx, open(), "transform", LeaseOptions{})
	if err != nil {
		t.Fatalf("transform lease while the migration lock is held: %v", err)
	}
	_, err = AcquireLease(ctx, open(), "transform", LeaseOptions{})
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrLeaseHeld) || "transform/"+held.Holder.Owner != tr.l.owner || held.Holder.Since.IsZero() {
		t.Fatalf("second transform lease: %v, want a HeldError naming %s", err, tr.l.owner)
	}
	t.Logf("refused: %v", err)
	got := make(chan error, 1)
	var waited []Holder
	go func() {
		l, err := AcquireLease(ctx, open(), "transform", LeaseOptions{Wait: true, OnWait: func(h Holder) { waited = append(waited, h) }})
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	time.Sleep(2 * lockSettle)
	if err := tr.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiting for the transform lease: %v", err)
	}
	if len(waited) != 1 || "transform/"+waited[0].Owner != tr.l.owner {
		t.Errorf("OnWait saw %+v, want the holder %s once", waited, tr.l.owner)
	}
	if err := mig.unlock(ctx, conn); err != nil {
		t.Fatal(err)
	}
}
