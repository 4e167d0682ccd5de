package testenv

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas/migrations"
)

var sharedClickHouse struct {
	sync.Mutex
	cfg  config.ClickHouse // server address and credentials, no database
	err  error
	done bool
}

var dbSeq atomic.Int64

// ClickHouse returns connection settings for a fresh database of this test
// alone, with every migration applied, on a ClickHouse server shared by the
// test binary: the server at IMPACT_CLICKHOUSE_ADDR (with
// IMPACT_CLICKHOUSE_USER/PASSWORD/TLS settings) when set, else a local
// server (chlocal) started on first use and stopped by Main. The database
// is dropped when the test ends.
//
// It never skips: when no server can be reached or started the test
// fails, because a suite that skips its ClickHouse tests proves nothing.
func ClickHouse(t testing.TB) config.ClickHouse {
	t.Helper()
	cfg := clickHouseDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: clickhouse: %v", err)
	}
	defer conn.Close()
	// The database is new and this test's alone: no concurrent runner, so
	// the lock's settle delay would be wasted.
	if _, err := migrations.Apply(ctx, conn, migrations.Options{Database: cfg.Database, SkipLock: true}); err != nil {
		t.Fatalf("testenv: clickhouse: migrate %s: %v", cfg.Database, err)
	}
	return cfg
}

// Reader returns cfg (from ClickHouse or ClickHouseEmpty) for the server's
// read-only user: chlocal.ReaderUser, which every local server has with
// the read-only profile of package readonly. Against a server at
// IMPACT_CLICKHOUSE_ADDR, IMPACT_TEST_CLICKHOUSE_READER_USER and
// IMPACT_TEST_CLICKHOUSE_READER_PASSWORD name a user with that profile
// (default: impact_reader without password).
func Reader(cfg config.ClickHouse) config.ClickHouse {
	cfg.User, cfg.Password = chlocal.ReaderUser, ""
	if u := os.Getenv("IMPACT_TEST_CLICKHOUSE_READER_USER"); u != "" {
		cfg.User = u
	}
	if p := os.Getenv("IMPACT_TEST_CLICKHOUSE_READER_PASSWORD"); p != "" {
		cfg.Password = p
	}
	return cfg
}

// ClickHouseEmpty is ClickHouse without migrations: a fresh, empty
// database (for tests of the migration runner itself).
func ClickHouseEmpty(t testing.TB) config.ClickHouse {
	t.Helper()
	return clickHouseDatabase(t)
}

func clickHouseDatabase(t testing.TB) config.ClickHouse {
	t.Helper()
	base, err := clickHouseServer()
	if err != nil {
		t.Fatalf("testenv: clickhouse: %v", err)
	}
	cfg := base
	cfg.Database = DatabaseName(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
		t.Fatalf("testenv: clickhouse: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := chconn.DropDatabase(ctx, cfg); err != nil {
			t.Errorf("testenv: clickhouse: %v", err)
		}
	})
	return cfg
}

// ClickHouseServer starts a ClickHouse server for this test alone (for
// tests that stop and restart it to simulate an outage) and closes it when
// the test ends. Its Config("...") gives connection settings; the database
// must be created (chconn.EnsureDatabase) and migrated by the test.
func ClickHouseServer(t testing.TB) *chlocal.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		t.Fatalf("testenv: clickhouse server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testenv: clickhouse server: %v", err)
		}
	})
	return s
}

func clickHouseServer() (config.ClickHouse, error) {
	sharedClickHouse.Lock()
	defer sharedClickHouse.Unlock()
	if sharedClickHouse.done {
		return sharedClickHouse.cfg, sharedClickHouse.err
	}
	sharedClickHouse.done = true
	env := config.FromEnv().ClickHouse
	if env.Addr != "" {
		env.Database = ""
		sharedClickHouse.cfg = env
		return env, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		sharedClickHouse.err = err
		return config.ClickHouse{}, err
	}
	registerCleanup(func() { _ = s.Close() })
	sharedClickHouse.cfg = s.Config("")
	sharedClickHouse.cfg.Database = ""
	return sharedClickHouse.cfg, nil
}

var unsafeDBChars = regexp.MustCompile(`[^a-zA-Z0-9_]+`)

// DatabaseName returns a database name unique to this call across
// processes (test binaries of several packages may share one server at
// IMPACT_CLICKHOUSE_ADDR): "test_", part of the test name, the process id
// and a sequence number.
func DatabaseName(t testing.TB) string {
	name := strings.ToLower(unsafeDBChars.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("test_%s_%d_%d", strings.Trim(name, "_"), os.Getpid(), dbSeq.Add(1))
}
