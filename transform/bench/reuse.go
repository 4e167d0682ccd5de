package bench

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/schemas"
)

// A kept load (Options.ReuseLoad) lives in the database <database>_load:
// the typed tables as loaded before the full refresh, the events held back
// for the incremental rounds (bench_tail, in order) and what produced them
// (bench_load). Restoring attaches the typed tables' partitions to the
// freshly migrated benchmark database by hard links: nothing is read or
// copied, so an iteration skips the simulation and the load.
type keptLoad struct {
	asOf time.Time
	rows int
	tail [][]byte
}

func loadDatabase(db string) string { return db + "_load" }

// restoreLoad fills db's typed tables from a load kept with the same
// options; ok is false when there is none (or it came from other options).
func restoreLoad(ctx context.Context, conn driver.Conn, db string, opts Options) (k keptLoad, ok bool, err error) {
	base := loadDatabase(db)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = @db AND name IN ('bench_load', 'bench_tail')",
		clickhouse.Named("db", base)).Scan(&n); err != nil {
		return k, false, fmt.Errorf("bench: look for a kept load: %w", err)
	}
	if n != 2 {
		return k, false, nil
	}
	var asOf time.Time
	var rows uint64
	err = conn.QueryRow(ctx, "SELECT as_of, rows FROM "+base+".bench_load WHERE events = @events AND seed = @seed AND share = @share AND rounds = @rounds",
		clickhouse.Named("events", uint64(opts.Events)), clickhouse.Named("seed", opts.Seed),
		clickhouse.Named("share", opts.IncrementalShare), clickhouse.Named("rounds", uint64(opts.Rounds))).Scan(&asOf, &rows)
	if err != nil {
		return k, false, nil // none for these options: load again
	}
	for _, t := range schemas.Tables() {
		if err := attachAll(ctx, conn, base+"."+t, db+"."+t); err != nil {
			return k, false, err
		}
	}
	q, err := conn.Query(ctx, "SELECT value FROM "+base+".bench_tail ORDER BY seq")
	if err != nil {
		return k, false, fmt.Errorf("bench: read the kept tail: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var v string
		if err := q.Scan(&v); err != nil {
			return k, false, fmt.Errorf("bench: read the kept tail: %w", err)
		}
		k.tail = append(k.tail, []byte(v))
	}
	if err := q.Err(); err != nil {
		return k, false, fmt.Errorf("bench: read the kept tail: %w", err)
	}
	k.asOf, k.rows = asOf.UTC(), int(rows)
	return k, true, nil
}

// keepLoad saves db's typed tables (hard links), the tail and the options
// into <db>_load, replacing any earlier kept load.
func keepLoad(ctx context.Context, conn driver.Conn, db string, opts Options, k keptLoad) error {
	base := loadDatabase(db)
	for _, q := range []string{"DROP DATABASE IF EXISTS " + base, "CREATE DATABASE " + base} {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("bench: keep the load: %w", err)
		}
	}
	for _, t := range schemas.Tables() {
		if err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS %s.%s", base, t, db, t)); err != nil {
			return fmt.Errorf("bench: keep the load: %w", err)
		}
		if err := attachAll(ctx, conn, db+"."+t, base+"."+t); err != nil {
			return err
		}
	}
	for _, q := range []string{
		"CREATE TABLE " + base + ".bench_tail (seq UInt32, value String) ENGINE = MergeTree ORDER BY seq",
		"CREATE TABLE " + base + ".bench_load (events UInt64, seed UInt64, share Float64, rounds UInt64, as_of DateTime, rows UInt64) ENGINE = TinyLog",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("bench: keep the load: %w", err)
		}
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+base+".bench_tail (seq, value)")
	if err != nil {
		return fmt.Errorf("bench: keep the tail: %w", err)
	}
	for i, v := range k.tail {
		if err := b.Append(uint32(i), string(v)); err != nil {
			return fmt.Errorf("bench: keep the tail: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("bench: keep the tail: %w", err)
	}
	// Written last: a kept load counts only once it is complete.
	lb, err := conn.PrepareBatch(ctx, "INSERT INTO "+base+".bench_load (events, seed, share, rounds, as_of, rows)")
	if err != nil {
		return fmt.Errorf("bench: keep the load: %w", err)
	}
	if err := lb.Append(uint64(opts.Events), opts.Seed, opts.IncrementalShare, uint64(opts.Rounds), k.asOf, uint64(k.rows)); err != nil {
		return fmt.Errorf("bench: keep the load: %w", err)
	}
	if err := lb.Send(); err != nil {
		return fmt.Errorf("bench: keep the load: %w", err)
	}
	return nil
}

// attachAll attaches every partition of table from to table to (same
// structure) as hard links.
func attachAll(ctx context.Context, conn driver.Conn, from, to string) error {
	db, table := splitName(from)
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition_id FROM system.parts WHERE database = @db AND table = @table AND active",
		clickhouse.Named("db", db), clickhouse.Named("table", table))
	if err != nil {
		return fmt.Errorf("bench: partitions of %s: %w", from, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("bench: partitions of %s: %w", from, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bench: partitions of %s: %w", from, err)
	}
	for _, id := range ids {
		// Partition ids of the typed tables are years: accept digits only,
		// so a value from the server cannot change the statement.
		if !digits.MatchString(id) {
			return fmt.Errorf("bench: partition id %q of %s is not a number", id, from)
		}
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ATTACH PARTITION ID '%s' FROM %s", to, id, from)); err != nil {
			return fmt.Errorf("bench: attach partition %s of %s to %s: %w", id, from, to, err)
		}
	}
	return nil
}

var digits = regexp.MustCompile(`^[0-9]+$`)

func splitName(name string) (db, table string) {
	db, table, _ = strings.Cut(name, ".")
	return db, table
}
