package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDoraIncrementalEqualsFull builds dora_changes in full from a first
// state of deployment_facts, findings and incident_events, then changes
// them as a refresh would (deployment_facts and findings rebuilt with
// their keys in transform_keys, new incident events stamped in
// [since, until)) and refreshes dora_changes incrementally: its rows must
// equal a full rebuild's. The changes are the cases the incremental
// recompute narrows its reads for: a late change in an old bucket that
// becomes the latest before a rollback of the next day (the earliest
// bucket is then months before the others), a hotfix in the bucket after
// a change, an incident naming two services whose new version moves its
// detection next to a change of each, an incident that stops naming a
// service, a change that stops being one (an earlier change takes its
// signal), a finding whose detection moves (the security-fix lead time of
// the fix naming it), a signal in the same second as a change, an
// untouched service, a late change that takes the signal of the change in
// the bucket before, and a signal in the bucket of the earliest recomputed
// change (the PREWHERE bounds).
func TestDoraIncrementalEqualsFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := testConn(t)
	m := *modelNamed("dora_changes")

	dep := func(id, svc, trigger, status, start, finish string, fixes ...string) map[string]any {
		r := map[string]any{"deployment_id": id, "service_id": svc, "team": "t-" + svc, "department": "d-" + svc,
			"environment": "production", "trigger": trigger, "status": status, "started_at": start,
			"finished_at": nil, "gate_blocked": json.Number("0"), "gate_waived": json.Number("0"),
			"lead_time_hours": json.Number("2"), "fixes_finding_ids": []any{}, "last_event_source": "ci/test",
			"last_event_id": "e-" + id, "last_event_time": start}
		if finish != "" {
			r["finished_at"], r["last_event_time"] = finish, finish
		}
		for _, f := range fixes {
			r["fixes_finding_ids"] = append(r["fixes_finding_ids"].([]any), f)
		}
		return r
	}
	incident := func(id, event, eventTime, status, detected, resolved, inserted string, services ...string) map[string]any {
		s := make([]any, len(services))
		for i, v := range services {
			s[i] = v
		}
		r := map[string]any{"event_source": "ir/test", "event_id": event, "event_type": "security.incident.updated",
			"event_time": eventTime, "incident_id": id, "severity": "high", "category": "availability", "status": status,
			"affected_service_ids": s, "affected_account_ids": []any{}, "contributing_departments": []any{},
			"detected_at": detected, "resolved_at": nil, "inserted_at": inserted}
		if resolved != "" {
			r["resolved_at"] = resolved
		}
		return r
	}
	finding := func(id, detected string) map[string]any {
		return map[string]any{"finding_id": id, "detected_at": detected}
	}

	deps := []map[string]any{
		// svc-a: R1 (next day) marks A1; B1 arrives late, later than A1.
		dep("A1", "svc-a", "feature", "success", "2026-02-10 08:00:00", "2026-02-10 09:00:00"),
		dep("R1", "svc-a", "rollback", "success", "2026-02-11 08:00:00", "2026-02-11 08:30:00"),
		// svc-a: a security fix of F-1 and F-2; F-1's detection moves.
		dep("S1", "svc-a", "security_fix", "success", "2026-03-01 00:00:00", "2026-03-01 06:00:00", "F-1", "F-2"),
		dep("S2", "svc-a", "security_fix", "success", "2026-03-05 00:00:00", "2026-03-05 06:00:00", "F-3"),
		dep("S3", "svc-a", "security_fix", "success", "2026-03-06 00:00:00", "2026-03-06 06:00:00", "F-missing"),
		// svc-a: A2; a hotfix in the next bucket comes later.
		dep("A2", "svc-a", "feature", "success", "2026-06-20 09:00:00", "2026-06-20 10:00:00"),
		// svc-b, svc-c: I1 names both; its new version is detected after C1 and C2.
		dep("C1", "svc-b", "feature", "success", "2026-06-15 11:00:00", "2026-06-15 12:00:00"),
		dep("C2", "svc-c", "config", "success", "2026-06-15 12:00:00", "2026-06-15 13:00:00"),
		// svc-d: I2 marks C3 until its new version names svc-b only.
		dep("C3", "svc-d", "feature", "success", "2026-05-31 23:00:00", "2026-06-01 00:00:00"),
		// svc-e: R2 marks D2 until D2 is rolled back; then D1.
		dep("D1", "svc-e", "feature", "success", "2026-05-10 09:00:00", "2026-05-10 10:00:00"),
		dep("D2", "svc-e", "feature", "success", "2026-05-10 14:00:00", "2026-05-10 15:00:00"),
		dep("R2", "svc-e", "rollback", "failure", "2026-05-10 18:00:00", "2026-05-10 18:10:00"),
		dep("R2-staging", "svc-e", "rollback", "success", "2026-05-10 16:00:00", "2026-05-10 16:10:00"),
		// svc-f: a rollback in the second E1 finished marks E0, not E1.
		dep("E0", "svc-f", "feature", "success", "2026-06-10 05:00:00", "2026-06-10 06:00:00"),
		dep("E1", "svc-f", "feature", "success", "2026-06-10 11:00:00", "2026-06-10 12:00:00"),
		dep("R3", "svc-f", "rollback", "success", "2026-06-10 12:00:00", "2026-06-10 12:20:00"),
		// svc-g: untouched, marked by its hotfix.
		dep("G1", "svc-g", "feature", "success", "2026-06-28 09:00:00", "2026-06-28 10:00:00"),
		dep("G2", "svc-g", "hotfix", "success", "2026-06-28 20:00:00", "2026-06-28 21:00:00"),
		// svc-h: RK marks K0 until K1 arrives late, in RK's bucket (the
		// rollback still runs: only its start counts); K0, in the bucket
		// before, loses its failure.
		dep("K0", "svc-h", "feature", "success", "2026-01-04 19:00:00", "2026-01-04 20:00:00"),
		dep("RK", "svc-h", "rollback", "in_progress", "2026-01-05 15:00:00", ""),
		// svc-i: J1, recomputed in place, is the earliest change; the
		// running rollback in its own bucket marks it.
		dep("J1", "svc-i", "feature", "success", "2026-01-01 09:00:00", "2026-01-01 10:00:00"),
		dep("RJ", "svc-i", "rollback", "in_progress", "2026-01-01 15:00:00", ""),
		// svc-j: a security fix of F-4 and F-5; F-5's detection moves, its
		// earliest (F-4's) does not: only the lead times of each finding
		// (security_fix_finding_lead_hours) change.
		dep("S4", "svc-j", "security_fix", "success", "2026-03-10 00:00:00", "2026-03-10 06:00:00", "F-4", "F-5"),
	}
	deps[12]["environment"] = "staging"
	findings := []map[string]any{
		finding("F-1", "2026-02-01 00:00:00"), finding("F-2", "2026-02-15 00:00:00"), finding("F-3", "2026-02-20 00:00:00"),
		finding("F-4", "2026-02-10 00:00:00"), finding("F-5", "2026-02-25 00:00:00"),
	}
	const before, at = "2026-06-30 00:00:00", "2026-07-01 00:00:00"
	incidents := []map[string]any{
		incident("I1", "i1-1", "2026-06-25 00:00:00", "open", "2026-06-25 00:00:00", "", before, "svc-b", "svc-c"),
		incident("I2", "i2-1", "2026-06-01 05:00:00", "open", "2026-06-01 05:00:00", "", before, "svc-b", "svc-d"),
	}

	load := func(table string, rows []map[string]any) {
		t.Helper()
		if modelNamed(table) != nil {
			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
				t.Fatal(err)
			}
			if err := execFile(ctx, conn, table+".ddl.sql", tmplData{Table: table}); err != nil {
				t.Fatal(err)
			}
		}
		if err := insertRows(ctx, conn, table, rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
		t.Fatal(err)
	}
	load("deployment_facts", deps)
	load("findings", findings)
	load("incident_events", incidents)
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{SLA: DefaultSLAPolicy}
	build := func(mode string, exists bool, since, until time.Time) (TableReport, []byte) {
		t.Helper()
		tr := TableReport{Table: m.name, Mode: mode}
		later, err := buildModel(ctx, conn, m, mode, exists, runParams(opts, asOf, since, until), false, &tr)
		if err == nil {
			err = execAll(ctx, conn, later, "drop the replaced table")
		}
		if err != nil {
			t.Fatalf("%s build: %v", mode, err)
		}
		rows, err := tableRows(ctx, conn, m)
		if err != nil {
			t.Fatal(err)
		}
		return tr, rows
	}
	_, first := build(Full, false, time.Unix(0, 0), asOf.Add(-12*time.Hour))
	for _, want := range []string{`"A1"`, `"R1"`, `"I2"`, `"RK"`} {
		if !bytes.Contains(first, []byte(want)) {
			t.Fatalf("first build lacks %s: the fixture no longer sets up its cases\n%s", want, first)
		}
	}

	// The refresh's changes.
	deps = append(deps,
		dep("B1", "svc-a", "feature", "success", "2026-02-10 19:00:00", "2026-02-10 20:00:00"),
		dep("H2", "svc-a", "hotfix", "success", "2026-06-21 09:00:00", "2026-06-21 10:00:00"),
		dep("K1", "svc-h", "feature", "success", "2026-01-05 09:00:00", "2026-01-05 10:00:00"))
	deps[10]["status"] = "rolled_back"                 // D2
	deps[14]["lead_time_hours"] = json.Number("3")     // E1 recomputed
	deps[20]["gate_blocked"] = json.Number("1")        // J1 recomputed
	findings[0]["detected_at"] = "2026-01-20 00:00:00" // F-1
	findings[4]["detected_at"] = "2026-02-26 00:00:00" // F-5
	load("deployment_facts", deps)
	load("findings", findings)
	load("incident_events", []map[string]any{
		incident("I1", "i1-2", "2026-06-26 00:00:00", "resolved", "2026-06-16 01:00:00", "2026-06-16 05:00:00", at, "svc-b", "svc-c"),
		incident("I2", "i2-2", "2026-06-02 00:00:00", "open", "2026-06-01 05:00:00", "", at, "svc-b"),
	})
	if err := conn.Exec(ctx, "TRUNCATE TABLE transform_keys"); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, "transform_keys", []map[string]any{
		{"model": "deployment_facts", "key": "B1"}, {"model": "deployment_facts", "key": "H2"},
		{"model": "deployment_facts", "key": "D2"}, {"model": "deployment_facts", "key": "E1"},
		{"model": "deployment_facts", "key": "K1"}, {"model": "deployment_facts", "key": "J1"},
		{"model": "findings", "key": "F-1"}, {"model": "findings", "key": "F-3"}, {"model": "findings", "key": "F-5"},
	}); err != nil {
		t.Fatal(err)
	}
	tr, inc := build(Incremental, true, asOf.Add(-12*time.Hour), asOf.Add(time.Second))
	if n, err := countRows(ctx, conn, m.name); err != nil {
		t.Fatal(err)
	} else if tr.Touched == 0 || tr.Touched >= n {
		t.Errorf("incremental refresh recomputed %d of %d changes, want some", tr.Touched, n)
	}
	_, full := build(Full, true, time.Unix(0, 0), asOf.Add(time.Second))
	if !bytes.Equal(inc, full) {
		t.Errorf("incremental dora_changes differs from a full rebuild:\n%s", lineDiff(string(inc), string(full)))
	}
	// The cases happened (the comparison alone would pass on a model that
	// ignores them in both modes).
	for _, c := range []struct{ change, signal string }{
		{"A1", ""}, {"B1", "R1"}, {"A2", "H2"}, {"C1", "I1"}, {"C2", "I1"}, {"C3", ""}, {"D1", "R2"}, {"E0", "R3"}, {"E1", ""}, {"G1", "G2"}, {"K0", ""}, {"K1", "RK"}, {"J1", "RJ"},
	} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT failure_signal_id FROM dora_changes WHERE deployment_id = '"+c.change+"'").Scan(&got); err != nil {
			t.Fatalf("change %s: %v", c.change, err)
		}
		if got != c.signal {
			t.Errorf("change %s: failure signal %q, want %q", c.change, got, c.signal)
		}
	}
	var lead float64
	if err := conn.QueryRow(ctx, "SELECT assumeNotNull(security_fix_lead_hours) FROM dora_changes WHERE deployment_id = 'S1'").Scan(&lead); err != nil {
		t.Fatal(err)
	}
	if want := (40*24 + 6.0); lead != want { // 2026-01-20 to 2026-03-01 06:00
		t.Errorf("S1 security-fix lead time %v h, want %v", lead, want)
	}
	var leads []float64
	if err := conn.QueryRow(ctx, "SELECT arraySort(security_fix_finding_lead_hours) FROM dora_changes WHERE deployment_id = 'S4'").Scan(&leads); err != nil {
		t.Fatal(err)
	}
	if want := []float64{12*24 + 6, 28*24 + 6}; !slices.Equal(leads, want) { // from 2026-02-26 and 2026-02-10 to 2026-03-10 06:00
		t.Errorf("S4 security-fix lead times %v h, want %v", leads, want)
	}
}

// lineDiff lists the rows (tableRows' objects) of got missing from want
// and the other way round.
func lineDiff(got, want string) string {
	rows := func(s string) []string { return strings.Split(strings.Trim(s, "[]\n"), "\n  },\n") }
	var b strings.Builder
	g, w := rows(got), rows(want)
	for _, r := range g {
		if !slices.Contains(w, r) {
			b.WriteString("incremental only:\n" + r + "\n")
		}
	}
	for _, r := range w {
		if !slices.Contains(g, r) {
			b.WriteString("full only:\n" + r + "\n")
		}
	}
	return b.String()
}
