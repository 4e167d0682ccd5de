package transform_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestLayeredFindings follows findings, a view over a base and a delta
// table, through incremental refreshes that add to the delta, carry an
// earlier delta over, fold it into a new base and replace a plain findings
// table of a release before layering; after each, every contract table
// must equal a full rebuild, the view must read the tables the report
// says, and no other layer table may be left.
//
// Not parallel: another test's INSERT running on the server holds the
// watermark back, and a refresh that reads every row again recomputes
// every finding, so the carry-over would go untested.
func TestLayeredFindings(t *testing.T) {
	conn := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	truth, _ := loadSimulation(t, conn, simulate.Options{Seed: 31, Days: 90}, 1, now.Add(-time.Hour), time.Time{})
	opts := func(share float64) transform.Options {
		return transform.Options{AsOf: truth.End, Overlap: time.Second, DeltaShare: share}
	}
	time.Sleep(3 * time.Second) // the loaded rows are stamped before the watermark
	refresh(t, conn, opts(0))

	// round r writes a new latest event for one finding in 25: rows the
	// next incremental refresh reads, and the one after does not read
	// again (they are stamped before its watermark, 2 s below its start),
	// so a finding of the round is in that refresh's delta only if the
	// delta before it is carried over.
	cols := typedColumns(t, conn, "finding_events")
	round := func(r int) {
		t.Helper()
		time.Sleep(2 * time.Second) // the new rows are stamped after the watermark
		exprs := columnExprs(cols, map[string]string{
			"event_id":     fmt.Sprintf("concat('round%d-', event_id)", r),
			"event_time":   fmt.Sprintf("event_time + %d", 3600*r),
			"ingested_at":  "now()",
			"kafka_offset": fmt.Sprintf("kafka_offset + %d", 1000000000*r),
		})
		q := fmt.Sprintf("INSERT INTO finding_events (%s)\nSELECT %s FROM (SELECT * FROM finding_events WHERE cityHash64(finding_id) %% 25 = %d ORDER BY finding_id, event_time DESC LIMIT 1 BY finding_id)",
			strings.Join(cols, ", "), strings.Join(exprs, ", "), r)
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		time.Sleep(3 * time.Second)
	}
	// equalsFull compares every contract table with a full rebuild (which
	// leaves findings a view over a new base alone).
	equalsFull := func(what string) {
		t.Helper()
		inc := snapshot(t, conn)
		rep := refresh(t, conn, transform.Options{AsOf: truth.End, Overlap: time.Second, Full: true})
		sameSnapshots(t, what, inc, snapshot(t, conn))
		if f := tableReport(t, rep, "findings"); f.Mode != transform.Full || f.Delta != 0 || layers(t, conn).delta != "" {
			t.Errorf("%s: a full build left a delta (%+v)", what, f)
		}
	}

	// Two incremental refreshes under a share no delta exceeds (100): each
	// writes a new delta, in the other slot, over the same base; the second
	// carries the first one's findings over (the rounds touch other
	// findings), so it holds more.
	prev := layers(t, conn)
	if prev.delta != "" {
		t.Fatalf("a full build left a delta: %+v", prev)
	}
	var deltas []uint64
	for r := 1; r <= 2; r++ {
		round(r)
		f := tableReport(t, refresh(t, conn, opts(100)), "findings")
		if f.Mode != transform.Incremental || f.Folded || f.Delta == 0 || f.Delta != f.Written || f.Rebuilt+f.Kept != 0 {
			t.Fatalf("round %d: findings %+v, want an incremental refresh that writes a delta only", r, f)
		}
		cur := layers(t, conn)
		if cur.base != prev.base || cur.delta == "" || cur.delta == prev.delta {
			t.Errorf("round %d: layers %+v after %+v, want the same base and a delta in the other slot", r, cur, prev)
		}
		prev, deltas = cur, append(deltas, f.Delta)
	}
	// Every finding of round 1 is in the second delta, which did not read
	// round 1's rows again.
	var missing uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM (SELECT DISTINCT finding_id FROM finding_events WHERE startsWith(event_id, 'round1-')) WHERE finding_id NOT IN (SELECT finding_id FROM "+prev.delta+")").Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing > 0 || deltas[1] <= deltas[0] {
		t.Errorf("delta rows %v, %d findings of round 1 missing: the second delta does not carry the first one's over", deltas, missing)
	}
	equalsFull("delta carried over")

	// A delta folded into a new base, by a share no delta stays under.
	round(3)
	refresh(t, conn, opts(100))
	prev = layers(t, conn)
	round(4)
	f := tableReport(t, refresh(t, conn, opts(1e-9)), "findings")
	if f.Mode != transform.Incremental || !f.Folded || f.Delta != 0 || f.Rebuilt == 0 || f.Written == 0 {
		t.Fatalf("findings %+v, want a fold", f)
	}
	if cur := layers(t, conn); cur.base == prev.base || cur.delta != "" || prev.delta == "" {
		t.Errorf("layers %+v after a fold of %+v, want a new base alone", cur, prev)
	}
	equalsFull("folded")

	// A plain findings table, as a release before layering left it, is
	// replaced by the view in the next refresh, which builds findings in
	// full and the other tables incrementally.
	prev = layers(t, conn)
	for _, q := range []string{
		"RENAME TABLE findings TO findings_view",
		"CREATE TABLE findings AS " + prev.base,
		"ALTER TABLE findings DROP COLUMN layer_key_hash", // a layer table's, not the model's
		"INSERT INTO findings SELECT * FROM findings_view",
		"DROP TABLE findings_view",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	round(5)
	rep := refresh(t, conn, opts(0))
	if f := tableReport(t, rep, "findings"); f.Mode != transform.Full {
		t.Errorf("findings over a plain table: mode %s, want full", f.Mode)
	}
	if d := tableReport(t, rep, "deal_facts"); d.Mode != transform.Incremental {
		t.Errorf("deal_facts: mode %s, want incremental", d.Mode)
	}
	if cur := layers(t, conn); cur.delta != "" {
		t.Errorf("layers %+v after a full build", cur)
	}
	equalsFull("plain table replaced")
}

func tableReport(t *testing.T, rep transform.Report, table string) transform.TableReport {
	t.Helper()
	for _, tr := range rep.Tables {
		if tr.Table == table {
			return tr
		}
	}
	t.Fatalf("no report of %s", table)
	return transform.TableReport{}
}

type findingsLayers struct{ base, delta string }

var layerTableRE = regexp.MustCompile(`findings_(base|delta)_[ab]`)

// layers returns the tables the findings view reads, and checks that it is
// a view and that no other layer table exists.
func layers(t *testing.T, conn driver.Conn) findingsLayers {
	t.Helper()
	ctx := context.Background()
	var ddl string
	if err := conn.QueryRow(ctx, "SHOW CREATE TABLE findings").Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ddl, "CREATE VIEW") {
		t.Fatalf("findings is not a view: %.200s", ddl)
	}
	var l findingsLayers
	want := map[string]bool{}
	for _, m := range layerTableRE.FindAllStringSubmatch(ddl, -1) {
		want[m[0]] = true
		if m[1] == "base" {
			l.base = m[0]
		} else {
			l.delta = m[0]
		}
	}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND match(name, '^findings_(base|delta)_')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got[n] = true
	}
	if l.base == "" || !maps.Equal(got, want) {
		t.Errorf("findings reads %v; layer tables %v", want, got)
	}
	return l
}
