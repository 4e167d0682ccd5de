package schemas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/schemas/migrations"
)

// migratedDB returns a connection to a fresh database holding this
// package's migration files, applied statement by statement as written (so
// the test judges the DDL itself, whatever the runner does). The server is
// IMPACT_CLICKHOUSE_ADDR when set, else a local one (Debian's 18.16 in CI)
// started for this test.
func migratedDB(ctx context.Context, t *testing.T) (driver.Conn, config.ClickHouse) {
	t.Helper()
	cfg := config.FromEnv().ClickHouse
	if cfg.Addr == "" {
		srv, err := chlocal.Start(ctx, chlocal.Options{})
		if err != nil {
			t.Fatalf("start clickhouse: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		cfg = srv.Config("")
	}
	cfg.Database = fmt.Sprintf("schemas_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chconn.DropDatabase(context.Background(), cfg) })
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for i, stmt := range migrationStatements(t) {
		// Twice: every statement must be idempotent. ALTER TABLE ... ADD
		// COLUMN IF NOT EXISTS is not valid on 18.16: the runner strips
		// IF NOT EXISTS and skips the ADD when the column exists
		// (TestApplyAddColumnIdempotent), so here it runs once, stripped.
		runs := 2
		if strings.Contains(stmt, "ADD COLUMN IF NOT EXISTS") {
			stmt, runs = strings.Replace(stmt, "ADD COLUMN IF NOT EXISTS", "ADD COLUMN", 1), 1
		}
		for range runs {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("migration statement %d: %v\n%s", i+1, err, stmt)
			}
		}
	}
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s", version)
	return conn, cfg
}

func migrationStatements(t *testing.T) []string {
	files, _ := filepath.Glob("migrations/*.sql")
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, splitSQL(string(b))...)
	}
	if len(out) < 3 {
		t.Fatalf("only %d migration statements", len(out))
	}
	return out
}

// TestMigrationsOnCurrentClickHouse runs every statement of the migration
// files, twice, on a current ClickHouse (chdb); TestInsertExamples runs them
// on the server the machine has (18.16 in CI).
func TestMigrationsOnCurrentClickHouse(t *testing.T) {
	stmts := migrationStatements(t)
	res := sqlcheck.RunChDB(t, append(stmts, stmts...))
	t.Logf("%d statements ran twice on chdb ClickHouse %s", len(stmts), res.Version)
}

// splitSQL splits at semicolons ending a line, the migration file format.
func splitSQL(s string) []string {
	var out []string
	var cur []string
	for _, line := range strings.Split(s, "\n") {
		l := strings.TrimRight(line, " \t\r")
		if strings.HasSuffix(l, ";") && !strings.HasPrefix(strings.TrimSpace(l), "--") {
			cur = append(cur, strings.TrimSuffix(l, ";"))
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	return out
}

// TestInsertExamples writes every example event, in both modes and twice
// (a replay), into a migrated ClickHouse database (18.16 in CI) with
// schemas.Rows and Block.Insert, plus a rejected message, then reads them
// back: the column types are what the driver and server accept, replays
// collapse under FINAL, and values survive the round trip.
func TestInsertExamples(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, cfg := migratedDB(ctx, t)
	ins, err := chconn.NewInserter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()

	msgs, perTable, files := exampleMessages(t)
	ingested := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var dec schemas.Decoder
	for replay := 0; replay < 2; replay++ {
		var rows schemas.Rows
		for i, m := range msgs {
			lin := schemas.Lineage{Topic: "security.events", Partition: int32(replay), Offset: int64(i), IngestedAt: ingested.Add(time.Duration(replay) * time.Hour)}
			dec.AppendMessage(&rows, m.value, m.headers, lin)
		}
		for _, b := range rows.Blocks() {
			var err error
			if replay == 0 {
				err = b.Insert(ctx, ins)
			} else {
				// The replay goes in as ingest's batches do: in chunks
				// (Blocks), one INSERT of a Native block per chunk.
				err = schemas.SplitBlock(b, 3).Insert(ctx, ins)
			}
			if err != nil {
				t.Fatalf("insert %s: %v", b.Table().Name(), err)
			}
		}
	}
	for tbl, ids := range perTable {
		var n, replayed uint64
		if err := conn.QueryRow(ctx, "SELECT count(), countIf(kafka_partition = 1) FROM "+tbl+" FINAL").Scan(&n, &replayed); err != nil {
			t.Fatalf("count %s: %v", tbl, err)
		}
		// The replay's rows are the later ingested ones: FINAL keeps them.
		if int(n) != len(ids) || n != replayed {
			t.Errorf("%s FINAL: %d rows, %d of the replay inserted in chunks; want %d of both (replays must collapse)", tbl, n, replayed, len(ids))
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events_raw FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(files) {
		t.Errorf("events_raw FINAL: %d rows, want %d", n, len(files))
	}
	var rule string
	if err := conn.QueryRow(ctx, "SELECT count(), any(rule) FROM ingest_rejects FINAL").Scan(&n, &rule); err != nil {
		t.Fatal(err)
	}
	if n != 2 || rule != "required" { // one per replay: distinct partitions
		t.Errorf("ingest_rejects FINAL: %d rows, rule %q; want 2, required", n, rule)
	}

	// Round trip of the typed values of one rich event per kind of column.
	var (
		sev, policy          string
		cvss                 *float64
		kev                  *uint8
		detected             time.Time
		due                  *time.Time
		title                *string
		accounts, depts      []string
		records              *int64
		csat                 *uint8
		blocking, secRelated uint8
	)
	q := "SELECT severity, cvss, kev, detected_at, sla_due_at, sla_policy_version, title FROM finding_events FINAL WHERE event_id = 'security.finding.opened-1'"
	if err := conn.QueryRow(ctx, q).Scan(&sev, &cvss, &kev, &detected, &due, &policy, &title); err != nil {
		t.Fatal(err)
	}
	if sev != "high" || cvss == nil || *cvss != 7.4 || kev == nil || *kev != 0 || !detected.Equal(time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)) ||
		due != nil || policy != "" || title == nil { // no sla_due_at sent: none stored (the transform derives it)
		t.Errorf("finding round trip: %s %v %v %v %v %q %v", sev, cvss, kev, detected, due, policy, title)
	}
	q = "SELECT affected_account_ids, contributing_departments, records_exposed FROM incident_events FINAL WHERE event_id = 'security.incident.updated-1'"
	if err := conn.QueryRow(ctx, q).Scan(&accounts, &depts, &records); err != nil {
		t.Fatal(err)
	}
	if strings.Join(accounts, ",") != "acct-1,acct-22" || strings.Join(depts, ",") != "marketing" || records == nil || *records != 1200 {
		t.Errorf("incident round trip: %v %v %v", accounts, depts, records)
	}
	if err := conn.QueryRow(ctx, "SELECT csat_score, security_related FROM ticket_events FINAL WHERE event_id = 'support.ticket.rated-1'").Scan(&csat, &secRelated); err != nil {
		t.Fatal(err)
	}
	if csat == nil || *csat != 2 || secRelated != 0 {
		t.Errorf("ticket round trip: %v %v", csat, secRelated)
	}
	if err := conn.QueryRow(ctx, "SELECT blocking FROM gate_events FINAL").Scan(&blocking); err != nil || blocking != 1 {
		t.Errorf("gate round trip: %v %v", blocking, err)
	}
}

// message is a Kafka message's value and headers.
type message struct {
	value   []byte
	headers []schemas.Header
}

// exampleMessages returns every valid example in structured and binary
// mode (a replay by identity) and one invalid event, the event identities
// per typed table and the example files.
func exampleMessages(t *testing.T) (msgs []message, perTable map[string]map[string]bool, files []string) {
	t.Helper()
	files, _ = filepath.Glob("testdata/valid/*.json")
	perTable = map[string]map[string]bool{} // table -> event identities
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := schemas.Decode(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		msgs = append(msgs, message{value: b})
		// The binary form of the same event: a replay by identity.
		bb, err := os.ReadFile(filepath.Join("testdata", "binary", filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		var bf struct {
			Headers []struct{ Key, Value string }
			Value   json.RawMessage
		}
		if err := json.Unmarshal(bb, &bf); err != nil {
			t.Fatal(err)
		}
		var hs []schemas.Header
		for _, h := range bf.Headers {
			hs = append(hs, schemas.Header{Key: h.Key, Value: []byte(h.Value)})
		}
		msgs = append(msgs, message{value: bf.Value, headers: hs})
		tbl := ev.Payload.Table()
		if perTable[tbl] == nil {
			perTable[tbl] = map[string]bool{}
		}
		perTable[tbl][ev.Source+"|"+ev.ID] = true
	}
	msgs = append(msgs, message{value: []byte(`{"specversion":"1.0"}`)})
	return msgs, perTable, files
}

// TestNativeOnCurrentClickHouse: the Native encoding of the blocks (what
// Block.Insert sends) is read by current ClickHouse (chdb) with the values
// TestInsertExamples checks on 18.16, whether a block's rows go in one
// Native block or in several (Array offsets restart in each block), and
// is accepted by INSERTs into the migrated tables.
func TestNativeOnCurrentClickHouse(t *testing.T) {
	msgs, perTable, files := exampleMessages(t)
	var dec schemas.Decoder
	var rows schemas.Rows
	for i, m := range msgs {
		dec.AppendMessage(&rows, m.value, m.headers, schemas.Lineage{Topic: "security.events", Offset: int64(i), IngestedAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
	}
	stmts, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := map[string]string{} // table -> its rows in one Native block
	for _, b := range rows.Blocks() {
		if b.Len() == 0 {
			continue
		}
		name := b.Table().Name()
		mid := b.Len() / 2
		var paths [2]string
		for k, data := range [][]byte{b.AppendNative(nil, 0, b.Len()), b.AppendNative(b.AppendNative(nil, 0, mid), mid, b.Len())} {
			paths[k] = filepath.Join(dir, fmt.Sprintf("%s-%d.native", name, k))
			if err := os.WriteFile(paths[k], data, 0o600); err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (%s) SELECT * FROM file('%s', 'Native')", name, strings.Join(b.Table().Columns(), ", "), paths[k]))
		}
		file[name] = fmt.Sprintf("file('%s', 'Native')", paths[0])
		one, two := file[name], fmt.Sprintf("file('%s', 'Native')", paths[1])
		stmts = append(stmts,
			fmt.Sprintf("SELECT throwIf(count() != %d) FROM %s", b.Len(), one),
			fmt.Sprintf("SELECT throwIf(count() != %d) FROM %s", b.Len(), two),
			fmt.Sprintf("SELECT throwIf((SELECT count() FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s)) + (SELECT count() FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s)) != 0)", one, two, two, one))
	}
	for tbl, ids := range perTable {
		stmts = append(stmts, fmt.Sprintf("SELECT throwIf(uniqExact(event_source, event_id) != %d) FROM %s", len(ids), file[tbl]))
	}
	stmts = append(stmts,
		fmt.Sprintf("SELECT throwIf(uniqExact(event_source, event_id) != %d) FROM %s", len(files), file["events_raw"]),
		fmt.Sprintf("SELECT throwIf(count() != 1 OR any(rule) != 'required') FROM %s", file["ingest_rejects"]),
		`SELECT throwIf(count() = 0 OR NOT min(severity = 'high' AND cvss = 7.4 AND kev = 0 AND detected_at = toDateTime('2025-03-04 09:00:00', 'UTC')
			AND sla_due_at IS NULL AND sla_policy_version = '' AND title IS NOT NULL))
		FROM `+file["finding_events"]+` WHERE event_id = 'security.finding.opened-1'`,
		`SELECT throwIf(count() = 0 OR NOT min(arrayStringConcat(affected_account_ids, ',') = 'acct-1,acct-22'
			AND arrayStringConcat(contributing_departments, ',') = 'marketing' AND records_exposed = 1200))
		FROM `+file["incident_events"]+` WHERE event_id = 'security.incident.updated-1'`,
		"SELECT throwIf(count() = 0 OR NOT min(csat_score = 2 AND security_related = 0)) FROM "+file["ticket_events"]+" WHERE event_id = 'support.ticket.rated-1'",
		"SELECT throwIf(count() = 0 OR min(blocking) != 1) FROM "+file["gate_events"],
	)
	sqlcheck.RunChDB(t, stmts)
}

// TestPartitionLimitOnCurrentClickHouse proves on current ClickHouse
// (chdb) what Block.Insert's split guards against: one INSERT into
// events_raw spanning 101 years is refused (max_partitions_per_insert_block,
// default 100), and INSERTs of MaxPartitionsPerInsert years each, as
// Insert makes them, are accepted.
func TestPartitionLimitOnCurrentClickHouse(t *testing.T) {
	ddl, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(from, years int) string {
		return fmt.Sprintf("INSERT INTO events_raw (%s) SELECT 's', toString(number), 'security.finding.opened', "+
			"toDateTime(concat(toString(%d + number), '-06-01 00:00:00')), '', 'F', '', '{}', 't', 0, number, now() "+
			"FROM system.numbers LIMIT %d", strings.Join(schemas.EventsRaw.Columns(), ", "), from, years)
	}
	n := schemas.MaxPartitionsPerInsert
	stmts := slices.Concat(ddl, []string{insert(1975, n), insert(1975+n, n)})
	sqlcheck.RunChDB(t, stmts)
	_, err = sqlcheck.Check(t.Context(), slices.Concat(ddl, []string{insert(1975, 101)}), sqlcheck.Options{})
	if err == nil || !strings.Contains(err.Error(), "partitions") {
		t.Fatalf("an INSERT over 101 years: %v, want current ClickHouse to refuse it (too many partitions)", err)
	}
}
