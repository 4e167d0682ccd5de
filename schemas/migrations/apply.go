package migrations

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Result reports what Apply did.
type Result struct {
	Applied    []Migration // migrations applied by this call (would be, with DryRun)
	Already    int         // migrations found applied before this call
	Statements []string    // the statements executed (would be, with DryRun), in order
	DryRun     bool
}

// String is a one-line summary, e.g. "nothing to do (3 migrations already
// applied)" or "applied 2 migrations: 0002_x, 0003_y".
func (r Result) String() string {
	if len(r.Applied) == 0 {
		return fmt.Sprintf("nothing to do (%d migrations already applied)", r.Already)
	}
	names := make([]string, len(r.Applied))
	for i, m := range r.Applied {
		names[i] = m.Name
	}
	verb := "applied"
	if r.DryRun {
		verb = "would apply"
	}
	return fmt.Sprintf("%s %d migrations: %s", verb, len(r.Applied), strings.Join(names, ", "))
}

// Apply applies the migrations not yet recorded in schema_migrations, in
// version order, using the connection's current database. A second call
// applies nothing. Concurrent callers are serialised by a lease lock; the
// loser waits and then finds nothing left to do.
func Apply(ctx context.Context, conn driver.Conn, opts Options) (Result, error) {
	if err := opts.check(); err != nil {
		return Result{}, err
	}
	if opts.Cluster != "" && !opts.DryRun && opts.Dial == nil {
		return Result{}, fmt.Errorf("migrations: Cluster %q is set but Dial is nil (ALTERs of replicated tables run on one replica of each shard)", opts.Cluster)
	}
	all, err := Load(opts.fsys())
	if err != nil {
		return Result{}, err
	}
	if err := checkDatabase(ctx, conn, opts); err != nil {
		return Result{}, err
	}
	opts, err = opts.forServer(ctx, conn)
	if err != nil {
		return Result{}, err
	}
	r := Result{DryRun: opts.DryRun}
	if opts.DryRun {
		applied, err := readApplied(ctx, conn, true)
		if err != nil {
			return r, err
		}
		pending, err := pendingOf(all, applied)
		if err != nil {
			return r, err
		}
		byVersion, err := statementsByVersion(all, opts)
		if err != nil {
			return r, err
		}
		r.Already = len(applied)
		r.Applied = pending
		for _, m := range pending {
			for _, st := range byVersion[m.Version] {
				r.Statements = append(r.Statements, st.String())
			}
		}
		return r, nil
	}

	for _, s := range bootstrapStatements(opts) {
		if err := conn.Exec(ctx, s); err != nil {
			return r, fmt.Errorf("create migration bookkeeping tables: %w", err)
		}
	}
	for {
		applied, err := readApplied(ctx, conn, false)
		if err != nil {
			return r, err
		}
		pending, err := pendingOf(all, applied)
		if err != nil {
			return r, err
		}
		r.Already = len(applied)
		if len(pending) == 0 {
			return r, nil
		}
		if opts.SkipLock {
			return applyLocked(ctx, conn, all, opts)
		}
		lk, ok, _, err := tryLock(ctx, conn, migrateLock)
		if err != nil {
			return r, err
		}
		if !ok {
			// Someone else is migrating: wait for them and look again.
			if err := sleep(ctx, lockPoll); err != nil {
				return r, fmt.Errorf("wait for migration lock: %w", err)
			}
			continue
		}
		r, err = applyLocked(ctx, conn, all, opts)
		if uerr := lk.unlock(ctx, conn); uerr != nil && err == nil {
			err = uerr
		}
		return r, err
	}
}

// applyLocked re-reads the applied set under the lock (the previous holder
// may have applied everything) and applies what is still pending.
func applyLocked(ctx context.Context, conn driver.Conn, all []Migration, opts Options) (Result, error) {
	var r Result
	applied, err := readApplied(ctx, conn, false)
	if err != nil {
		return r, err
	}
	pending, err := pendingOf(all, applied)
	if err != nil {
		return r, err
	}
	r.Already = len(applied)
	byVersion, err := statementsByVersion(all, opts)
	if err != nil {
		return r, err
	}
	shards := &shardConns{opts: opts}
	defer shards.close()
	for _, m := range pending {
		for i, st := range byVersion[m.Version] {
			if st.perShard {
				ran, err := shards.alter(ctx, conn, st)
				if err != nil {
					return r, fmt.Errorf("apply migration %s statement %d: %w", m.Name, i+1, err)
				}
				if ran {
					r.Statements = append(r.Statements, st.String())
				}
				continue
			}
			s := st.sql
			if c, ok := columnChange(s); ok {
				done, err := c.done(ctx, conn, "")
				if err != nil {
					return r, fmt.Errorf("apply migration %s statement %d: %w", m.Name, i+1, err)
				}
				if done {
					continue // added or dropped by a runner that died before recording the migration
				}
			}
			if err := conn.Exec(ctx, s); err != nil {
				return r, fmt.Errorf("apply migration %s statement %d: %w", m.Name, i+1, err)
			}
			r.Statements = append(r.Statements, s)
		}
		if err := conn.Exec(ctx, sqlRecordApplied, uint32(m.Version), m.Name, m.Checksum); err != nil {
			return r, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		r.Applied = append(r.Applied, m)
	}
	return r, nil
}

type appliedRow struct {
	version  int
	name     string
	checksum string
}

// readApplied returns the recorded migrations by version. FINAL collapses
// the duplicate rows two racing runners may have written. With missingOK a
// missing table means nothing was applied (dry runs create nothing).
func readApplied(ctx context.Context, conn driver.Conn, missingOK bool) (map[int]appliedRow, error) {
	if missingOK {
		var n uint64
		if err := conn.QueryRow(ctx, sqlHasMigrationsTable).Scan(&n); err != nil {
			return nil, fmt.Errorf("look for schema_migrations: %w", err)
		}
		if n == 0 {
			return map[int]appliedRow{}, nil
		}
	}
	rows, err := conn.Query(ctx, sqlReadApplied)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]appliedRow{}
	for rows.Next() {
		var v uint32
		var a appliedRow
		if err := rows.Scan(&v, &a.name, &a.checksum); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		a.version = int(v)
		out[a.version] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return out, nil
}

// pendingOf returns the migrations of all not in applied, and fails when an
// applied migration's file changed or disappeared.
func pendingOf(all []Migration, applied map[int]appliedRow) ([]Migration, error) {
	known := map[int]bool{}
	var pending []Migration
	for _, m := range all {
		known[m.Version] = true
		a, ok := applied[m.Version]
		if !ok {
			pending = append(pending, m)
			continue
		}
		if a.checksum != m.Checksum {
			return nil, fmt.Errorf("migration %s was applied with checksum %s but the file now has %s: applied migrations must not change, add a new one", m.Name, short(a.checksum), short(m.Checksum))
		}
	}
	for v, a := range applied {
		if !known[v] {
			return nil, fmt.Errorf("migration %s is recorded as applied but this binary does not have it (is it older than the database?)", a.name)
		}
	}
	return pending, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// checkDatabase makes sure the connection works on opts.Database when it is
// set, so the runner never migrates the wrong database.
func checkDatabase(ctx context.Context, conn driver.Conn, opts Options) error {
	var cur string
	if err := conn.QueryRow(ctx, sqlCurrentDatabase).Scan(&cur); err != nil {
		return fmt.Errorf("read current database: %w", err)
	}
	if opts.Database != "" && cur != opts.Database {
		return fmt.Errorf("migrate database %s: the connection uses database %s", opts.Database, cur)
	}
	return nil
}

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
