// Package migrations applies the numbered ClickHouse migrations of impact.
//
// Migrations are the files NNNN_name.sql in this directory, embedded in the
// binary and applied in version order. Statements in a file are separated by
// a semicolon at the end of a line. Each applied migration is recorded in
// the table schema_migrations (version, name, checksum, applied_at); a
// migration that was applied is never applied again, and a changed file
// (checksum mismatch) is an error: add a new migration instead.
//
// ClickHouse has no transactions, so two runners starting at once (two
// ingesters, say) are kept apart by a lease lock (see lock.go), and every
// statement is expected to be idempotent anyway (CREATE ... IF NOT EXISTS),
// so a runner that died half way can simply run again.
//
// In cluster mode (Options.Cluster) the same files are rewritten into
// replicated DDL; see cluster.go.
package migrations

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options configures Apply and Statements. The zero value applies the
// embedded migrations to the connection's database on a single server.
type Options struct {
	// Database is the database being migrated. Apply checks that the
	// connection uses it; cluster DDL names it (Distributed engine, CREATE
	// DATABASE ON CLUSTER). Default "impact".
	Database string

	// Cluster, when set, makes the DDL replicated: ON CLUSTER Cluster,
	// Replicated*MergeTree engines and a Distributed table in front of each
	// MergeTree table, and ALTERs of those replicated tables on one
	// replica of each shard (see cluster.go). Apply then needs Dial.
	Cluster string

	// Dial connects to another server of the cluster (addr is host:port
	// of its native protocol, from system.clusters) with the same
	// credentials and database as Apply's connection. Apply needs it in
	// cluster mode: the ALTERs of replicated tables run on one replica of
	// each shard rather than ON CLUSTER (see shards.go). Apply closes the
	// connections it opens.
	Dial func(ctx context.Context, addr string) (driver.Conn, error)

	// DryRun makes Apply report what it would do without changing
	// anything (not even creating schema_migrations).
	DryRun bool

	// SkipLock skips the lock and its settle delay (about a second), for
	// a database no other runner can see: testenv's fresh per-test
	// databases. Never set it for a shared database.
	SkipLock bool

	// FS holds the migration files; nil means the embedded ones. Tests use
	// it to run the runner on files of their own.
	FS fs.FS

	// noComments leaves column comments out of the cluster DDL: set by
	// Apply for servers that cannot replicate them (replicatesComments).
	noComments bool
}

// plainIdent is what Database and Cluster may be: they are written into
// DDL unquoted (identifiers cannot be bound), and they come from flags
// and the environment.
var plainIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// check refuses a Database or Cluster that is not a plain identifier.
func (o Options) check() error {
	if !plainIdent.MatchString(o.database()) {
		return fmt.Errorf("migrations: database %q: name must be letters, digits and underscores", o.database())
	}
	if o.Cluster != "" && !plainIdent.MatchString(o.Cluster) {
		return fmt.Errorf("migrations: cluster %q: name must be letters, digits and underscores", o.Cluster)
	}
	return nil
}

func (o Options) database() string {
	if o.Database == "" {
		return "impact"
	}
	return o.Database
}

func (o Options) fsys() fs.FS {
	if o.FS == nil {
		return embedded
	}
	return o.FS
}

// Migration is one migration file.
type Migration struct {
	Version    int      // NNNN of the file name
	Name       string   // file name without ".sql", e.g. "0001_events_raw"
	Checksum   string   // hex SHA-256 of the file
	Statements []string // the file split into statements, without the trailing ';'
}

var fileName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Load reads and checks the migration files of fsys (nil: the embedded
// ones), in version order.
func Load(fsys fs.FS) ([]Migration, error) {
	if fsys == nil {
		fsys = embedded
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		m := fileName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_lower_case_name.sql", name)
		}
		version, _ := strconv.Atoi(m[1])
		if prev, ok := seen[version]; ok {
			return nil, fmt.Errorf("migration files %s and %s share version %d", prev, name, version)
		}
		seen[version] = name
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		stmts := Split(string(data))
		for i, st := range stmts {
			stmts[i] = stripColumnIfExists(st)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s has no statements", name)
		}
		for i, s := range stmts {
			if err := checkIdempotent(s); err != nil {
				return nil, fmt.Errorf("migration %s statement %d: %w", name, i+1, err)
			}
		}
		sum := sha256.Sum256(data)
		out = append(out, Migration{
			Version:    version,
			Name:       strings.TrimSuffix(path.Base(name), ".sql"),
			Checksum:   hex.EncodeToString(sum[:]),
			Statements: stmts,
		})
	}
	return out, nil
}

// Split splits SQL text into statements at semicolons that end a line.
// Chunks holding only comments and blank lines are dropped.
func Split(sql string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); hasCode(s) {
			out = append(out, s)
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(sql))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.HasSuffix(line, ";") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
			cur.WriteString(strings.TrimSuffix(line, ";"))
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}

// reColumnChange matches an ALTER TABLE that adds or drops one column, with
// or without IF [NOT] EXISTS:
// ALTER TABLE [db.]t [ON CLUSTER c] ADD COLUMN [IF NOT EXISTS] col, or
// ... DROP COLUMN [IF EXISTS] col (one column per ALTER: only the first is
// looked at). A nested column (n.x) is not matched: system.columns does
// not list it by that name.
var reColumnChange = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(?:(?P<db>[A-Za-z_][A-Za-z0-9_]*)\.)?(?P<table>[A-Za-z_][A-Za-z0-9_]*)(?:\s+ON\s+CLUSTER\s+[A-Za-z_][A-Za-z0-9_]*)?\s+(?P<op>ADD|DROP)\s+COLUMN\s+(?P<cond>IF\s+(?:NOT\s+)?EXISTS\s+)?(?P<col>[A-Za-z_][A-Za-z0-9_]*)(?:[\s,;]|$)`)

var (
	reDB    = reColumnChange.SubexpIndex("db")
	reTable = reColumnChange.SubexpIndex("table")
	reOp    = reColumnChange.SubexpIndex("op")
	reCond  = reColumnChange.SubexpIndex("cond")
	reCol   = reColumnChange.SubexpIndex("col")
)

// stripColumnIfExists removes IF NOT EXISTS from an ALTER TABLE that adds
// one column and IF EXISTS from one that drops one: 18.16 can parse
// neither. A migration file may (and should) say them, for current
// releases and readers; the runner makes every single-column ADD and DROP
// idempotent itself (columnChange), on every version.
func stripColumnIfExists(stmt string) string {
	code := stripComments(stmt)
	m := reColumnChange.FindStringSubmatchIndex(code)
	if m == nil || m[2*reCond] < 0 {
		return stmt
	}
	cond := strings.Fields(code[m[2*reCond]:m[2*reCond+1]])
	add := strings.EqualFold(code[m[2*reOp]:m[2*reOp+1]], "ADD")
	if add != (len(cond) == 3) { // ADD ... IF EXISTS or DROP ... IF NOT EXISTS: not ours to mend
		return stmt
	}
	return code[:m[2*reCond]] + code[m[2*reCond+1]:]
}

// colChange is an ALTER TABLE that adds (add) or drops one column of
// db.table (db "": the connection's database).
type colChange struct {
	db, table, column string
	add               bool
}

// columnChange recognises a single-column ADD or DROP, so that Apply can
// skip an ADD when the column exists and a DROP when the table exists
// without it (a re-run after a runner died half way through the
// migration).
func columnChange(stmt string) (colChange, bool) {
	m := reColumnChange.FindStringSubmatch(stripComments(stmt))
	if m == nil {
		return colChange{}, false
	}
	return colChange{db: m[reDB], table: m[reTable], column: m[reCol], add: strings.EqualFold(m[reOp], "ADD")}, true
}

// done reports whether the change has nothing left to do on conn: the
// column is there for an ADD; the table is there without the column for a
// DROP. A DROP on a table that is not there runs, and fails as it should
// (a misspelt name is not "already dropped"). defaultDB names the database
// when the statement does not ("": the connection's).
func (c colChange) done(ctx context.Context, conn driver.Conn, defaultDB string) (bool, error) {
	db := cmp.Or(c.db, defaultDB)
	var tables, cols uint64
	if err := conn.QueryRow(ctx, sqlColumnState, db, db, c.table, db, db, c.table, c.column).Scan(&tables, &cols); err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", c.table, c.column, err)
	}
	if c.add {
		return cols > 0, nil
	}
	return tables > 0 && cols == 0, nil
}

// hasCode reports whether s has anything besides comments and blanks.
func hasCode(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return true
		}
	}
	return false
}

// stripComments removes whole-line "--" comments, so statement heads can be
// matched.
func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

var (
	reCreate   = regexp.MustCompile(`(?is)^CREATE\s+(?:MATERIALIZED\s+)?(?:TABLE|VIEW|DATABASE)\s+`)
	reCreateOK = regexp.MustCompile(`(?is)^CREATE\s+(?:MATERIALIZED\s+)?(?:TABLE|VIEW|DATABASE)\s+IF\s+NOT\s+EXISTS\s`)
	reDrop     = regexp.MustCompile(`(?is)^DROP\s+(?:TABLE|VIEW|DATABASE)\s+`)
	reDropOK   = regexp.MustCompile(`(?is)^DROP\s+(?:TABLE|VIEW|DATABASE)\s+IF\s+EXISTS\s`)
	reValues   = regexp.MustCompile(`(?is)^INSERT\s+INTO\s+[^(]*\([^)]*\)\s*VALUES\b|^INSERT\s+INTO\s+\S+\s+VALUES\b`)
)

// checkIdempotent rejects CREATE without IF NOT EXISTS and DROP without IF
// EXISTS: a runner that died half way must be able to run the file again.
// It also rejects INSERT ... VALUES, which cannot be run by Exec on 18.16.
// (18.16 lacks ADD COLUMN IF NOT EXISTS and DROP COLUMN IF EXISTS: the
// runner skips a single-column ADD or DROP that is already done, see
// columnChange; the lock keeps concurrent runners from racing on those.)
func checkIdempotent(stmt string) error {
	s := stripComments(stmt)
	if reCreate.MatchString(s) && !reCreateOK.MatchString(s) {
		return fmt.Errorf("CREATE must say IF NOT EXISTS, so a re-run is harmless")
	}
	if reDrop.MatchString(s) && !reDropOK.MatchString(s) {
		return fmt.Errorf("DROP must say IF EXISTS, so a re-run is harmless")
	}
	if reValues.MatchString(s) {
		// Over the native protocol, 18.16 answers INSERT ... VALUES by
		// waiting for data blocks the client never sends: Exec hangs.
		return fmt.Errorf("INSERT ... VALUES hangs on ClickHouse 18.16 over the native protocol; write INSERT INTO t (cols) SELECT instead")
	}
	return nil
}
