package migrations

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster mode rewrites the single-server DDL of the migration files for a
// sharded, replicated deployment (Options.Cluster = the cluster name of the
// servers' remote_servers configuration, which also need ZooKeeper/Keeper
// and the {shard} and {replica} macros):
//
//   - every CREATE/ALTER/DROP gets ON CLUSTER <cluster>, except the ALTER
//     of a replicated <table>_local (below);
//   - a table with a *MergeTree engine becomes <table>_local with engine
//     Replicated*MergeTree('/clickhouse/tables/{shard}/<database>/<table>_local',
//     '{replica}', <original arguments>), and <table> itself becomes a
//     Distributed table over it, sharded by cityHash64 of the sorting key.
//     Analysts, dashboards and the ingester keep using the readable name
//     <table>; the sorting key is the event identity, so a replayed event
//     lands on the shard (and in the part) its first copy went to and
//     ReplacingMergeTree still collapses it;
//   - ALTER and DROP of such a table apply to both <table>_local and
//     <table>; the ALTER of <table>_local runs without ON CLUSTER on one
//     replica of each shard (see shards.go), because ClickHouse 18.16's
//     distributed DDL of a replicated ALTER can stop a server's DDL worker;
//   - INSERT statements are left alone (they go through the Distributed
//     table).
//
// The bookkeeping tables (schema_migrations, schema_migrations_lock) are
// replicated over the whole cluster (one ZooKeeper path without {shard}),
// so every server sees the same migration history.
//
// ZooKeeper paths name the database literally (Options.Database) rather
// than with the {database} macro: 18.16 does not expand {database} by
// itself ("No macro database in config"), current releases do either.

// StatementsFor is Statements for the server conn reaches: on a cluster of
// servers that cannot replicate column comments (before 20.1), without
// them, as Apply runs them there. `impact migrate --dry-run` uses it for a
// database that does not exist yet.
func StatementsFor(ctx context.Context, conn driver.Conn, opts Options) ([]string, error) {
	opts, err := opts.forServer(ctx, conn)
	if err != nil {
		return nil, err
	}
	return Statements(opts)
}

// forServer returns opts for the server conn reaches: on a cluster,
// noComments set when that server cannot replicate column comments.
func (o Options) forServer(ctx context.Context, conn driver.Conn) (Options, error) {
	if o.Cluster != "" {
		ok, err := replicatesComments(ctx, conn)
		if err != nil {
			return o, err
		}
		o.noComments = !ok
	}
	return o, nil
}

// Statements returns every statement Apply would run on an empty database
// for opts, bookkeeping tables first; with opts.Cluster set, the replicated
// DDL as a server that replicates column comments runs it (StatementsFor
// asks the server). Used by golden tests and SQL checks.
func Statements(opts Options) ([]string, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	all, err := Load(opts.fsys())
	if err != nil {
		return nil, err
	}
	byVersion, err := statementsByVersion(all, opts)
	if err != nil {
		return nil, err
	}
	out := bootstrapStatements(opts)
	for _, m := range all {
		for _, st := range byVersion[m.Version] {
			out = append(out, st.String())
		}
	}
	return out, nil
}

// step is one statement of a migration as the runner executes it.
type step struct {
	sql string
	// perShard: an ALTER of the replicated table table (database-
	// qualified in sql, not here), run without ON CLUSTER on one replica
	// of each shard; replication carries it to the other replicas (see
	// shards.go).
	perShard bool
	table    string
}

// perShardNote heads a per-shard step in Statements, Result.Statements and
// --dry-run output, which show the plan as it runs.
const perShardNote = "-- per shard, not ON CLUSTER: runs on one replica of each shard, replication carries it to the others (docs/scaling.md)\n"

// String is the statement as Statements shows it.
func (s step) String() string {
	if s.perShard {
		return perShardNote + s.sql
	}
	return s.sql
}

// plainSteps wraps statements that run as they are.
func plainSteps(stmts ...string) []step {
	out := make([]step, len(stmts))
	for i, s := range stmts {
		out[i] = step{sql: s}
	}
	return out
}

const (
	createMigrationsTable = `CREATE TABLE IF NOT EXISTS %sschema_migrations%s
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime
)
ENGINE = %s
ORDER BY version`
	createLockTable = `CREATE TABLE IF NOT EXISTS %sschema_migrations_lock%s
(
    owner String,
    acquired_at DateTime,
    heartbeat_at DateTime,
    released UInt8
)
ENGINE = %s
ORDER BY owner`
)

// bootstrapStatements create the bookkeeping tables.
func bootstrapStatements(opts Options) []string {
	if opts.Cluster == "" {
		return []string{
			fmt.Sprintf(createMigrationsTable, "", "", "ReplacingMergeTree()"),
			fmt.Sprintf(createLockTable, "", "", "ReplacingMergeTree(heartbeat_at)"),
		}
	}
	on := " ON CLUSTER " + opts.Cluster
	q := opts.database() + "."
	return []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s%s", opts.database(), on),
		fmt.Sprintf(createMigrationsTable, q, on,
			"ReplicatedReplacingMergeTree('/clickhouse/tables/all/"+opts.database()+"/schema_migrations', '{replica}')"),
		fmt.Sprintf(createLockTable, q, on,
			"ReplicatedReplacingMergeTree('/clickhouse/tables/all/"+opts.database()+"/schema_migrations_lock', '{replica}', heartbeat_at)"),
	}
}

// statementsByVersion returns the statements of every migration of all
// for opts, by version. Cluster rewriting carries state from one migration
// to the next (the Distributed engine of each split table, needed again
// when an ALTER recreates it), so it always walks all of them.
func statementsByVersion(all []Migration, opts Options) (map[int][]step, error) {
	out := make(map[int][]step, len(all))
	rw := &rewriter{opts: opts, dist: map[string]string{}}
	for _, m := range all {
		if opts.Cluster == "" {
			out[m.Version] = plainSteps(m.Statements...)
			continue
		}
		for i, s := range m.Statements {
			if opts.noComments {
				if s = withoutComments(s); s == "" {
					continue
				}
			}
			r, err := rw.rewrite(s)
			if err != nil {
				return nil, fmt.Errorf("migration %s statement %d for cluster %s: %w", m.Name, i+1, opts.Cluster, err)
			}
			out[m.Version] = append(out[m.Version], r...)
		}
	}
	return out, nil
}

// rewriter turns single-server statements into their cluster form.
type rewriter struct {
	opts Options
	dist map[string]string // split table -> its Distributed CREATE statement
}

var (
	ident = `([A-Za-z_][A-Za-z0-9_]*)`
	// CREATE TABLE IF NOT EXISTS name
	reCreateTable = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+` + ident + `\b`)
	// CREATE [MATERIALIZED] VIEW IF NOT EXISTS name
	reCreateView = regexp.MustCompile(`(?is)^CREATE\s+(MATERIALIZED\s+)?VIEW\s+IF\s+NOT\s+EXISTS\s+` + ident + `\b`)
	// ENGINE = [Replacing|Summing|...]MergeTree[(args)]
	reEngine = regexp.MustCompile(`(?is)\bENGINE\s*=\s*([A-Za-z]*)MergeTree\b(\s*\(([^()]*)\))?`)
	// ORDER BY (a, b) or ORDER BY a
	reOrderBy = regexp.MustCompile(`(?is)\bORDER\s+BY\s+(\((?:[^()]|\([^()]*\))*\)|[A-Za-z_][A-Za-z0-9_]*)`)
	reAlter   = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+` + ident + `\b`)
	reDropTbl = regexp.MustCompile(`(?is)^DROP\s+(TABLE|VIEW)\s+IF\s+EXISTS\s+` + ident + `\b`)
	reInsert  = regexp.MustCompile(`(?is)^INSERT\s+INTO\s`)
	reOnClust = regexp.MustCompile(`(?is)\bON\s+CLUSTER\b`)
	// CREATE/ALTER/DROP of a database-qualified name
	reQualified = regexp.MustCompile(`(?is)^(?:CREATE\s+(?:MATERIALIZED\s+)?(?:TABLE|VIEW)\s+IF\s+NOT\s+EXISTS|ALTER\s+TABLE|DROP\s+(?:TABLE|VIEW)\s+IF\s+EXISTS)\s+[A-Za-z_][A-Za-z0-9_]*\s*\.`)
)

// rewrite turns one single-server statement into its cluster form.
func (rw *rewriter) rewrite(stmt string) ([]step, error) {
	opts := rw.opts
	s := stripComments(stmt)
	if reOnClust.MatchString(s) {
		return nil, fmt.Errorf("migration files must not say ON CLUSTER; the runner adds it")
	}
	on := " ON CLUSTER " + opts.Cluster
	// Names are qualified: 18.16 runs ON CLUSTER DDL on the other servers
	// in their default database and does not qualify the AS table itself.
	q := opts.database() + "."
	if reQualified.MatchString(s) {
		return nil, fmt.Errorf("migration files name tables without a database (the runner uses the connection's)")
	}
	switch {
	case reCreateTable.MatchString(s):
		loc := reCreateTable.FindStringSubmatchIndex(s)
		table := s[loc[2]:loc[3]]
		rest := s[loc[1]:]
		eng := reEngine.FindStringSubmatchIndex(rest)
		if eng == nil {
			// Not MergeTree (Memory, Distributed, ...): just everywhere.
			return plainSteps("CREATE TABLE IF NOT EXISTS " + q + table + on + rest), nil
		}
		local := table + "_local"
		kind := rest[eng[2]:eng[3]]
		args := ""
		if eng[6] >= 0 {
			args = strings.TrimSpace(rest[eng[6]:eng[7]])
		}
		replArgs := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", opts.database(), local)
		if args != "" {
			replArgs += ", " + args
		}
		body := rest[:eng[0]] + "ENGINE = Replicated" + kind + "MergeTree(" + replArgs + ")" + rest[eng[1]:]
		ob := reOrderBy.FindStringSubmatch(body)
		if ob == nil {
			return nil, fmt.Errorf("table %s: no ORDER BY to shard by", table)
		}
		key := strings.TrimSpace(ob[1])
		if strings.HasPrefix(key, "(") {
			key = strings.TrimSpace(key[1 : len(key)-1])
		}
		createLocal := "CREATE TABLE IF NOT EXISTS " + q + local + on + body
		createDist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s%s AS %s%s\nENGINE = Distributed(%s, %s, %s, cityHash64(%s))",
			q, table, on, q, local, opts.Cluster, opts.database(), local, key)
		rw.dist[table] = createDist
		return plainSteps(createLocal, createDist), nil

	case reCreateView.MatchString(s):
		loc := reCreateView.FindStringSubmatchIndex(s)
		rest := s[loc[1]:]
		name := s[loc[4]:loc[5]]
		head := "CREATE VIEW IF NOT EXISTS "
		if loc[2] >= 0 { // materialized: its storage must replicate too
			head = "CREATE MATERIALIZED VIEW IF NOT EXISTS "
			if eng := reEngine.FindStringSubmatchIndex(rest); eng != nil {
				args := ""
				if eng[6] >= 0 {
					args = strings.TrimSpace(rest[eng[6]:eng[7]])
				}
				replArgs := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", opts.database(), name)
				if args != "" {
					replArgs += ", " + args
				}
				rest = rest[:eng[0]] + "ENGINE = Replicated" + rest[eng[2]:eng[3]] + "MergeTree(" + replArgs + ")" + rest[eng[1]:]
			}
		}
		return plainSteps(head + q + name + on + rest), nil

	case reAlter.MatchString(s):
		loc := reAlter.FindStringSubmatchIndex(s)
		table := s[loc[2]:loc[3]]
		rest := s[loc[1]:]
		createDist, split := rw.dist[table]
		if !split {
			return plainSteps("ALTER TABLE " + q + table + on + rest), nil
		}
		// The Distributed table must mirror the local table's columns, but
		// ALTER ... ON CLUSTER of a Distributed table is refused when the
		// cluster has internal_replication ("Table ... isn't replicated,
		// but shard #1 is replicated"), so it is recreated instead. It
		// holds no data when writers insert synchronously
		// (insert_distributed_sync, see docs/scaling.md).
		// The ALTER of the replicated table goes without ON CLUSTER: in
		// 18.16's distributed DDL both replicas of a shard race for the
		// shard's "executed" node, and the loser's DDL worker thread
		// stops for good ("Node exists ... Terminating"), hanging every
		// later ON CLUSTER statement. Run on one replica of each shard,
		// replication carries it to the others (shards.go).
		return []step{
			{sql: "ALTER TABLE " + q + table + "_local" + rest, perShard: true, table: table + "_local"},
			{sql: "DROP TABLE IF EXISTS " + q + table + on},
			{sql: createDist},
		}, nil

	case reDropTbl.MatchString(s):
		loc := reDropTbl.FindStringSubmatchIndex(s)
		kind, name := s[loc[2]:loc[3]], s[loc[4]:loc[5]]
		rest := s[loc[1]:]
		if strings.EqualFold(kind, "VIEW") {
			return plainSteps("DROP VIEW IF EXISTS " + q + name + on + rest), nil
		}
		// Dropping a table that was never split is harmless (IF EXISTS).
		delete(rw.dist, name)
		return plainSteps(
			"DROP TABLE IF EXISTS "+q+name+on+rest,
			"DROP TABLE IF EXISTS "+q+name+"_local"+on+rest,
		), nil

	case reInsert.MatchString(s):
		return plainSteps(s), nil
	}
	head := s
	if len(head) > 40 {
		head = head[:40] + "..."
	}
	return nil, fmt.Errorf("cannot rewrite %q for a cluster (supported: CREATE TABLE/VIEW IF NOT EXISTS, ALTER TABLE, DROP TABLE/VIEW IF EXISTS, INSERT)", head)
}

// A COMMENT clause: its string may hold doubled quotes and backslash escapes.
var reColumnComment = regexp.MustCompile(`(?i)\s+COMMENT\s+'(?:[^'\\]|\\.|'')*'`)

// withoutComments returns statement s without its column comments: its
// COMMENT clauses removed, or "" for an ALTER TABLE ... COMMENT COLUMN.
// ClickHouse before 20.1 cannot replicate a table whose columns have
// comments (18.16's second replica fails with "Table structure in
// ZooKeeper is too different from local table structure"), so Apply
// leaves them out on a cluster of such servers (see replicatesComments);
// the checksums stay those of the files.
func withoutComments(s string) string {
	if reCommentColumnStmt.MatchString(s) {
		return ""
	}
	return reColumnComment.ReplaceAllString(s, "")
}

var reCommentColumnStmt = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+COMMENT\s+COLUMN\s`)

// replicatesComments reports whether the server conn reaches can replicate
// tables whose columns have comments (20.1 and later; see withoutComments).
func replicatesComments(ctx context.Context, conn driver.Conn) (bool, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return false, fmt.Errorf("read the server version: %w", err)
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return false, fmt.Errorf("server version %q: %w", v, err)
	}
	return n >= 20, nil
}
