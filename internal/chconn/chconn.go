// Package chconn opens clickhouse-go v2 connections from config.ClickHouse,
// and sends ingest's INSERTs over the HTTP interface (Inserter, insert.go).
//
// Every impact command and test connects through here, so the choices that
// matter for ClickHouse 18.16 (the Debian server used in tests) live in one
// place:
//
//   - native protocol with LZ4 compression;
//   - no connection-level settings: 18.16 predates settings serialised as
//     strings, and clickhouse-go can then only send integer and boolean
//     settings (others fail with "query setting ... has unsupported data
//     type"); per-query settings via clickhouse.Context must be ints/bools;
//   - a context deadline makes clickhouse-go send max_execution_time (the
//     time left + 5 s). Read-only users have readonly=1 (package readonly):
//     18.16 ignores per-query settings of such users on the native
//     protocol, and current releases accept max_execution_time only up to
//     the profile's limit (changeable_in_readonly);
//   - INSERT statements must name their columns (see the design brief);
//   - rows in bulk go through Inserter: the Native format over HTTP,
//     encoded from the caller's column buffers.
package chconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/config"
)

// ErrNoAddr is returned when config.ClickHouse has no address.
var ErrNoAddr = errors.New("no ClickHouse address: set IMPACT_CLICKHOUSE_ADDR or --clickhouse-addr")

// Defaults applied when config.ClickHouse leaves them zero.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultReadTimeout = 5 * time.Minute // long transforms are legitimate
	// DefaultMaxOpenConns covers transform.MaxConcurrentQueries:
	// clickhouse-go fails a query that waits longer than DialTimeout
	// for a free connection, and a refresh runs its models and
	// impact_stats' reads side by side, each for longer than that on a
	// large database.
	DefaultMaxOpenConns = 24
)

// Options returns the clickhouse-go options for cfg, for callers that need
// to adjust them before clickhouse.Open. Most callers use Open.
func Options(cfg config.ClickHouse) (*clickhouse.Options, error) {
	if cfg.Addr == "" {
		return nil, ErrNoAddr
	}
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = DefaultDialTimeout
	}
	opts := &clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     config.SplitList(cfg.Addr),
		Auth: clickhouse.Auth{
			Database: cfg.DB(),
			Username: cfg.Username(),
			Password: cfg.Password,
		},
		Compression:      &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout:      dial,
		ReadTimeout:      DefaultReadTimeout,
		MaxOpenConns:     DefaultMaxOpenConns,
		MaxIdleConns:     DefaultMaxOpenConns / 2,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "impact", Version: "1"}},
		},
	}
	if cfg.TLS || cfg.TLSCAFile != "" {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
	}
	return opts, nil
}

func tlsConfig(cfg config.ClickHouse) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLSSkipVerify}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read ClickHouse TLS CA %s: %w", cfg.TLSCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read ClickHouse TLS CA %s: no PEM certificates found", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Open connects to ClickHouse with the native protocol and pings it, so
// a wrong address or password fails here rather than at the first query.
// The database must exist (see EnsureDatabase).
func Open(ctx context.Context, cfg config.ClickHouse) (driver.Conn, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to clickhouse %s as %s (database %s): %w", cfg.Addr, cfg.Username(), cfg.DB(), err)
	}
	return conn, nil
}

// OpenDB is Open for database/sql users (the same options, through
// clickhouse.OpenDB). It does not ping: call PingContext if needed.
func OpenDB(cfg config.ClickHouse) (*sql.DB, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	db := clickhouse.OpenDB(opts)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	return db, nil
}

// EnsureDatabase creates cfg's database if it does not exist.
func EnsureDatabase(ctx context.Context, cfg config.ClickHouse) error {
	return databaseDDL(ctx, cfg, "create", "CREATE DATABASE IF NOT EXISTS ")
}

// DropDatabase drops cfg's database if it exists (tests clean up with it).
func DropDatabase(ctx context.Context, cfg config.ClickHouse) error {
	return databaseDDL(ctx, cfg, "drop", "DROP DATABASE IF EXISTS ")
}

// databaseDDL runs stmt followed by cfg's database name. It connects to
// the "default" database, because a connection naming a missing database
// is refused at the handshake.
func databaseDDL(ctx context.Context, cfg config.ClickHouse, verb, stmt string) error {
	db := cfg.DB()
	// Identifiers cannot be bound, so the name is checked instead.
	if !validIdent(db) {
		return fmt.Errorf("%s database %q: name must be letters, digits and underscores", verb, db)
	}
	admin := cfg
	admin.Database = "default"
	conn, err := Open(ctx, admin)
	if err != nil {
		return fmt.Errorf("%s database %s: %w", verb, db, err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, stmt+db); err != nil {
		return fmt.Errorf("%s database %s: %w", verb, db, err)
	}
	return nil
}

// validIdent reports whether s is a plain ClickHouse identifier, safe to
// place in a statement unquoted.
func validIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// DatabaseExists reports whether cfg's database exists.
func DatabaseExists(ctx context.Context, cfg config.ClickHouse) (bool, error) {
	admin := cfg
	admin.Database = "default"
	conn, err := Open(ctx, admin)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", cfg.DB()).Scan(&n); err != nil {
		return false, fmt.Errorf("look for database %s: %w", cfg.DB(), err)
	}
	return n > 0, nil
}

// StopMerges stops background merges of every table in cfg's database
// (SYSTEM STOP MERGES, per table: without a table it would stop the whole
// server's). A benchmark keeps a finished phase's tables this way instead
// of dropping them while the next phase is measured.
func StopMerges(ctx context.Context, cfg config.ClickHouse) error {
	db := cfg.DB()
	admin := cfg
	admin.Database = "default"
	conn, err := Open(ctx, admin)
	if err != nil {
		return fmt.Errorf("stop merges in %s: %w", db, err)
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree'", db)
	if err != nil {
		return fmt.Errorf("stop merges in %s: list tables: %w", db, err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("stop merges in %s: list tables: %w", db, err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stop merges in %s: list tables: %w", db, err)
	}
	for _, t := range tables {
		// Identifiers cannot be bound, so the names are checked instead.
		if !validIdent(db) || !validIdent(t) {
			return fmt.Errorf("stop merges in %s: table %q: name must be letters, digits and underscores", db, t)
		}
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+db+"."+t); err != nil {
			return fmt.Errorf("stop merges of %s.%s: %w", db, t, err)
		}
	}
	return nil
}
