package transform

import (
	"fmt"
	"testing"

	"github.com/secimpact/impact/internal/sqlcheck"
)

// TestFoldOnCurrentClickHouse runs a fold of each layered model's delta
// into a new base in chdb (a current ClickHouse), as buildLayered sends
// it: the recomputed rows and the earlier delta's others in <name>_next
// (layer_delta.sql), the fold's working set (layer_fold.sql), the
// partitions to rebuild (partitions.sql), the copy of the base's other
// rows in them and the attach of the rest (copy.sql, carry.sql), then the
// new base in its slot and the view without a delta. The plan (Plan,
// TestPlanOnCurrentClickHouse) shows the refresh that writes a delta;
// 18.16 runs the fold in TestLayeredFindings.
func TestFoldOnCurrentClickHouse(t *testing.T) {
	stmts := []string{}
	add := func(s ...string) { stmts = append(stmts, s...) }
	state, err := sqlFS.ReadFile("sql/state.ddl.sql")
	if err != nil {
		t.Fatal(err)
	}
	st, err := statements("state.ddl.sql", string(state), tmplData{})
	if err != nil {
		t.Fatal(err)
	}
	add(st...)
	for _, c := range []struct {
		model, cols  string
		open, closed string // the base's rows: partition 0, and month 202603
		delta        string // the earlier delta's row (of an open base entity)
		key, touched string // this refresh's recomputed entity and its row
		want         string // the view's (key, status) after the fold, by key
	}{
		{"findings", "finding_id, status, detected_at, last_event_time",
			"('F-1', 'open', toDateTime('2026-01-01 00:00:00'), toDateTime('2026-01-01 00:00:00')), ('F-2', 'open', toDateTime('2026-01-02 00:00:00'), toDateTime('2026-01-02 00:00:00'))",
			"('F-3', 'fixed', toDateTime('2026-01-03 00:00:00'), toDateTime('2026-03-03 00:00:00'))",
			"('F-2', 'fixed', toDateTime('2026-01-02 00:00:00'), toDateTime('2026-06-02 00:00:00'))",
			"F-1", "('F-1', 'open', toDateTime('2026-01-01 00:00:00'), toDateTime('2026-06-30 00:00:00'))",
			"[('F-1', 'open'), ('F-2', 'fixed'), ('F-3', 'fixed')]"},
		{"ticket_facts", "ticket_id, status, created_at, last_event_time",
			"('T-1', 'open', toDateTime('2026-01-01 00:00:00'), toDateTime('2026-01-01 00:00:00')), ('T-2', 'open', toDateTime('2026-01-02 00:00:00'), toDateTime('2026-01-02 00:00:00'))",
			"('T-3', 'solved', toDateTime('2026-01-03 00:00:00'), toDateTime('2026-03-03 00:00:00'))",
			"('T-2', 'solved', toDateTime('2026-01-02 00:00:00'), toDateTime('2026-06-02 00:00:00'))",
			"T-1", "('T-1', 'pending', toDateTime('2026-01-01 00:00:00'), toDateTime('2026-06-30 00:00:00'))",
			"[('T-1', 'pending'), ('T-2', 'solved'), ('T-3', 'solved')]"},
	} {
		m := *modelNamed(c.model)
		base, delta := m.layerTable("base", "a"), m.layerTable("delta", "a")
		ddl := func(table string) {
			text, _ := m.file(".ddl.sql")
			s, err := statements(m.name+".ddl.sql", text, tmplData{Table: table})
			if err != nil {
				t.Fatal(err)
			}
			key, err := m.keyHashSteps(table)
			if err != nil {
				t.Fatal(err)
			}
			add(append(s, key...)...)
		}
		ddl(base)
		ddl(delta)
		ddl(m.name + "_next")
		add("INSERT INTO "+base+" ("+c.cols+") VALUES "+c.open+", "+c.closed,
			"INSERT INTO "+delta+" ("+c.cols+") VALUES "+c.delta,
			"INSERT INTO transform_keys (model, key) VALUES ('"+m.name+"', '"+c.key+"')",
			"INSERT INTO "+m.name+"_next ("+c.cols+") VALUES "+c.touched)
		for _, file := range []string{"layer_delta.sql", "layer_fold.sql"} {
			s, err := layerSteps(m, file, delta)
			if err != nil {
				t.Fatal(err)
			}
			add(s...)
		}
		// No base row shares a key hash with the new delta's rows but
		// not their key.
		collisions, err := m.collisionsQuery(base, m.name+"_next")
		if err != nil {
			t.Fatal(err)
		}
		add(fmt.Sprintf("SELECT throwIf((%s) != 0, 'key hash collisions in %s')", collisions, base))
		add(m.partitionsQuery(base, m.name+"/fold"))
		// The open partition holds a recomputed and a delta entity: it is
		// rebuilt; the month of the closed one is attached.
		carry, err := carrySteps(m, base, m.name+"/fold", []string{"0"}, []string{"202603"})
		if err != nil {
			t.Fatal(err)
		}
		add(carry...)
		add(placeSteps(m, m.layerTable("base", "b"))...)
		publish, err := publishSteps(m, layout{base: m.layerTable("base", "b")}, false)
		if err != nil {
			t.Fatal(err)
		}
		add(publish...)
		// The view reads the new base alone: the recomputed row, the
		// earlier delta's row and the attached one, each once.
		add(fmt.Sprintf("SELECT throwIf((SELECT groupArray(tuple(%[1]s, status)) FROM (SELECT %[1]s, status FROM %[2]s ORDER BY %[1]s)) != %[3]s, 'the folded %[2]s is wrong')",
			m.key, m.name, c.want))
	}
	res := sqlcheck.RunChDB(t, stmts)
	t.Logf("%d statements ran on ClickHouse %s (chdb)", len(stmts), res.Version)
}
