package transform

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TestLayeredFoldsOnTouchedWithoutRow: the view of a layered model takes
// out of the base only the entities its delta has a row for, so an
// incremental refresh whose touched entity gets no recomputed row must
// fold instead of writing a delta (buildLayered), or the base's old row of
// that entity would stay visible. No model produces such an entity from
// the touch queries today (a touched finding has events); here the events
// of a finding are taken away after the full build, and it is touched.
func TestLayeredFoldsOnTouchedWithoutRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, m := layeredFindings(t)
	event := findingOpened
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	p := runParams(Options{SLA: DefaultSLAPolicy}, asOf, time.Unix(0, 0), asOf)
	// share 100: a delta of any size would do, so only the missing row
	// can make the refresh fold.
	build := func(mode string, exists bool) TableReport { return buildLayer(t, conn, m, mode, exists, p) }
	build(Full, false)

	// F-2's events are gone; F-1 and F-2 are touched (the window of the
	// touch queries, [asOf, asOf), reads no event).
	if err := conn.Exec(ctx, "TRUNCATE TABLE finding_events"); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, "finding_events", []map[string]any{event("F-1"), event("F-3")}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "TRUNCATE TABLE transform_keys"); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, "transform_keys", []map[string]any{
		{"model": "findings", "key": "F-1"}, {"model": "findings", "key": "F-2"},
	}); err != nil {
		t.Fatal(err)
	}
	p = runParams(Options{SLA: DefaultSLAPolicy}, asOf, asOf, asOf)
	if tr := build(Incremental, true); !tr.Folded || tr.Touched != 2 {
		t.Errorf("incremental refresh with a touched finding that has no row: folded %v, touched %d; want a fold of 2", tr.Folded, tr.Touched)
	}
	inc, err := tableRows(ctx, conn, m)
	if err != nil {
		t.Fatal(err)
	}
	p = runParams(Options{SLA: DefaultSLAPolicy}, asOf, time.Unix(0, 0), asOf)
	build(Full, true)
	full, err := tableRows(ctx, conn, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inc, full) {
		t.Errorf("findings after the fold differs from a full rebuild:\n%s", lineDiff(string(inc), string(full)))
	}
	if bytes.Contains(inc, []byte(`"F-2"`)) || !bytes.Contains(inc, []byte(`"F-3"`)) {
		t.Errorf("findings after the fold should hold F-1 and F-3 only:\n%s", inc)
	}
}

// layeredFindings returns a test database holding transform's state
// tables and the opening events of findings F-1, F-2 and F-3, and the
// findings model.
func layeredFindings(t *testing.T) (driver.Conn, model) {
	t.Helper()
	ctx := context.Background()
	conn := testConn(t)
	if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, "finding_events", []map[string]any{findingOpened("F-1"), findingOpened("F-2"), findingOpened("F-3")}); err != nil {
		t.Fatal(err)
	}
	return conn, *modelNamed("findings")
}

// findingOpened is the opening event of finding id, open since 1 March 2026.
func findingOpened(id string) map[string]any {
	return map[string]any{"event_source": "test", "event_id": id + "-opened", "event_type": "security.finding.opened",
		"event_time": "2026-03-01 00:00:00", "finding_id": id, "scanner": "t", "category": "sca", "severity": "high",
		"service_id": "svc-a", "status": "open", "detected_at": "2026-03-01 00:00:00", "kafka_topic": "t",
		"ingested_at": "2026-03-01 00:00:00"}
}

// buildLayer refreshes the layered model m (a delta of any size may stay:
// share 100) and drops the tables it replaced.
func buildLayer(t *testing.T, conn driver.Conn, m model, mode string, exists bool, p params) TableReport {
	t.Helper()
	ctx := context.Background()
	cur := layout{}
	if exists {
		var err error
		if cur, _, err = liveLayout(ctx, conn, m); err != nil {
			t.Fatal(err)
		}
	}
	tr := TableReport{Table: m.name, Mode: mode}
	later, err := buildLayered(ctx, conn, m, mode, exists, cur, p, false, 100, &tr)
	if err == nil {
		err = execAll(ctx, conn, later, "drop the replaced tables")
	}
	if err != nil {
		t.Fatalf("%s build: %v", mode, err)
	}
	return tr
}

// TestLayeredFoldsOnKeyHashCollision: the view takes the delta's entities
// out of the base by their key hashes (layer_key.sql), so a base row of
// another key with the hash of a delta row would be hidden. The refresh
// must find it (layer_collisions.sql) and fold instead of keeping the
// delta. No two keys of sipHash64 collide in a test's data: the base's
// hash of F-3 is set to F-1's, and F-1 is recomputed.
func TestLayeredFoldsOnKeyHashCollision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, m := layeredFindings(t)
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	full := runParams(Options{SLA: DefaultSLAPolicy}, asOf, time.Unix(0, 0), asOf)
	buildLayer(t, conn, m, Full, false, full)
	cur, _, err := liveLayout(ctx, conn, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "ALTER TABLE "+cur.base+" UPDATE layer_key_hash = sipHash64('F-1') WHERE finding_id = 'F-3'"); err != nil {
		t.Fatal(err)
	}
	// 18.16 runs a mutation in the background.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var left uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = @t AND is_done = 0",
			clickhouse.Named("t", cur.base)).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mutation of the base did not finish in a minute")
		}
	}
	if err := insertRows(ctx, conn, "transform_keys", []map[string]any{{"model": "findings", "key": "F-1"}}); err != nil {
		t.Fatal(err)
	}
	if tr := buildLayer(t, conn, m, Incremental, true, runParams(Options{SLA: DefaultSLAPolicy}, asOf, asOf, asOf)); !tr.Folded {
		t.Errorf("incremental refresh over a base row that shares the recomputed key's hash: %+v, want a fold", tr)
	}
	inc, err := tableRows(ctx, conn, m)
	if err != nil {
		t.Fatal(err)
	}
	buildLayer(t, conn, m, Full, true, full)
	want, err := tableRows(ctx, conn, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inc, want) {
		t.Errorf("findings after the collision differs from a full rebuild:\n%s", lineDiff(string(inc), string(want)))
	}
}
