package transform_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
)

// TestRefreshNoWait: while another process holds the database's transform
// lock, Refresh with NoWait returns at once with an error naming the
// holder, and changes nothing.
func TestRefreshNoWait(t *testing.T) {
	cfg, conn := openDB(t)
	ctx := context.Background()
	other, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lease, err := migrations.AcquireLease(ctx, other, transform.LockName, migrations.LeaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = transform.Refresh(ctx, conn, transform.Options{NoWait: true})
	if !errors.Is(err, migrations.ErrLeaseHeld) || !strings.Contains(err.Error(), "transform lock is held by") {
		t.Fatalf("refresh while another holds the lock: %v, want ErrLeaseHeld naming the holder", err)
	}
	t.Logf("refused: %v", err)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'findings'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("a refused refresh built findings")
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := transform.Refresh(ctx, conn, transform.Options{NoWait: true}); err != nil {
		t.Fatalf("refresh after the lock was released: %v", err)
	}
}
