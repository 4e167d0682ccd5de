package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFloatBytes: arrays sent as the bytes of their float64s
// (qDeploymentGroups, qFindingGroups) read back bit for bit from
// ClickHouse 18.16, zeros, negatives, fractions of a day, huge and
// infinite values included; a string of the wrong length is an error.
func TestFloatBytes(t *testing.T) {
	ctx := context.Background()
	conn := testConn(t)
	// The values as the server computes them, read back through
	// clickhouse-go's Array scan and through the bytes of the queries'
	// expression.
	const q = `SELECT vals, length(vals), arrayStringConcat(arrayMap(x -> reinterpretAsString(if(x = 0, -0., x)), vals), '')
FROM (SELECT arrayFilter(x -> x != 99, %s) AS vals)`
	for _, vals := range []string{
		"[toFloat64(99)]", // empty
		"[toFloat64(0)]",
		"[toFloat64(0), 1 / 3, -2, 1 / 86400, 2 / 3600, (toInt64(1234567) - toInt64(3)) / 86400, toFloat64(123456789012345680000), exp10(300), -exp10(-300), 1 / 0, -1 / 0]",
	} {
		var want []float64
		var n uint64
		var got string
		if err := conn.QueryRow(ctx, fmt.Sprintf(q, vals)).Scan(&want, &n, &got); err != nil {
			t.Fatal(err)
		}
		f, err := floatBytes(got, n)
		if err != nil {
			t.Fatalf("%s: %v", vals, err)
		}
		if !slices.EqualFunc(f, want, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
			t.Errorf("%s: read %v, want %v", vals, f, want)
		}
	}
	// A magnitude below 2^-1008 loses bytes: an error, not a wrong value.
	var n uint64
	var got string
	if err := conn.QueryRow(ctx, fmt.Sprintf(q, "[1.5, exp10(-310), 2.5]")).Scan(new([]float64), &n, &got); err != nil {
		t.Fatal(err)
	}
	if f, err := floatBytes(got, n); err == nil {
		t.Errorf("a value below 2^-1008: read %v, want an error", f)
	}
	for _, bad := range []struct {
		s string
		n uint64
	}{{"", 1}, {"1234567", 1}, {"123456781", 1}, {"12345678", 2}} {
		if f, err := floatBytes(bad.s, bad.n); err == nil {
			t.Errorf("%q as %d values: %v, want an error", bad.s, bad.n, f)
		}
	}
}

// TestSecurityFixLeadShippedFixes: metric 11 counts a finding's fix when a
// security_fix deployment to production that succeeded names it (the DORA
// security lens's shipped fix: a change of dora_changes), once per
// (deployment, finding) pair; a
// failed, rolled-back, running or staging deployment naming the finding,
// or another trigger, fixed nothing yet, and a deployment without a finish
// time gives no lead time.
func TestSecurityFixLeadShippedFixes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := testConn(t)
	for _, table := range []string{"deployment_facts", "findings"} {
		if err := execFile(ctx, conn, table+".ddl.sql", tmplData{Table: table}); err != nil {
			t.Fatal(err)
		}
	}
	dep := func(id, env, trigger, status, finished string, fixes ...any) map[string]any {
		r := map[string]any{"deployment_id": id, "environment": env, "trigger": trigger, "status": status,
			"started_at": "2026-03-01 00:00:00", "finished_at": nil, "fixes_finding_ids": fixes, "last_event_time": "2026-03-01 00:00:00"}
		if finished != "" {
			r["finished_at"], r["last_event_time"] = finished, finished
		}
		return r
	}
	deps := []map[string]any{
		dep("shipped", "production", "security_fix", "success", "2026-03-01 10:00:00", "F-1", "F-2"),
		dep("shipped-later", "production", "security_fix", "success", "2026-04-02 00:00:00", "F-3"),
		dep("staging", "staging", "security_fix", "success", "2026-03-01 01:00:00", "F-3"),
		dep("failed", "production", "security_fix", "failure", "2026-03-01 02:00:00", "F-3"),
		dep("rolled-back", "production", "security_fix", "rolled_back", "2026-03-01 03:00:00", "F-3"),
		dep("running", "production", "security_fix", "in_progress", "", "F-3"),
		dep("success-unfinished", "production", "security_fix", "success", "", "F-3"), // no finish time: no lead time
		dep("feature", "production", "feature", "success", "2026-03-01 04:00:00", "F-3"),
	}
	findings := []map[string]any{
		{"finding_id": "F-1", "detected_at": "2026-03-01 00:00:00"},
		{"finding_id": "F-2", "detected_at": "2026-02-28 22:00:00"},
		{"finding_id": "F-3", "detected_at": "2026-03-31 00:00:00"},
	}
	if err := insertRows(ctx, conn, "deployment_facts", deps); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, "findings", findings); err != nil {
		t.Fatal(err)
	}
	// The read takes the lead times dora_changes keeps for its changes.
	if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	tr := TableReport{Table: "dora_changes", Mode: Full}
	later, err := buildModel(ctx, conn, *modelNamed("dora_changes"), Full, false, runParams(Options{SLA: DefaultSLAPolicy}, asOf, time.Unix(0, 0), asOf), false, &tr)
	if err == nil {
		err = execAll(ctx, conn, later, "drop the replaced table")
	}
	if err != nil {
		t.Fatal(err)
	}
	fixes, err := loadSecurityFix(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fixes {
		got = append(got, fmt.Sprintf("%d %g", f.Month, f.Hours))
	}
	slices.Sort(got)
	if want := []string{"202603 10", "202603 12", "202604 48"}; !slices.Equal(got, want) {
		t.Errorf("security-fix lead times (month hours) = %q, want %q", got, want)
	}
}

// TestLoadDealsInIDOrder: loadDeals gives the deals by month closed (the
// table's partition), then in the order of their opportunity ids, whatever
// order the server sends them in (the figures over deals are summed in
// that order), each with its own fields.
func TestLoadDealsInIDOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := testConn(t)
	if err := execFile(ctx, conn, "deal_facts.ddl.sql", tmplData{Table: "deal_facts"}); err != nil {
		t.Fatal(err)
	}
	// Ids out of order, in parts of several months (partitions) and
	// several inserts, so the server's order is not the ids'.
	ids := []string{"O-9", "O-10", "O-1", "O-7", "O-3", "O-2", "O-8", "O-5", "O-4", "O-6", "O-11", "O-0"}
	for i, id := range ids {
		row := map[string]any{"opportunity_id": id, "account_id": "acct-" + id, "segment": "smb",
			"closed_at": fmt.Sprintf("2026-%02d-15 00:00:00", 1+i%4), "amount_usd": json.Number(strconv.Itoa(i)), "won": json.Number(strconv.Itoa(i % 2))}
		if err := insertRows(ctx, conn, "deal_facts", []map[string]any{row}); err != nil {
			t.Fatal(err)
		}
	}
	deals, err := loadDeals(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(ids)
	slices.SortFunc(want, func(a, b string) int {
		ma, mb := slices.Index(ids, a)%4, slices.Index(ids, b)%4
		if ma != mb {
			return ma - mb
		}
		return strings.Compare(a, b)
	})
	var got []string
	for _, d := range deals {
		id := strings.TrimPrefix(d.Account, "acct-")
		got = append(got, id)
		i := slices.Index(ids, id)
		if d.Amount != float64(i) || d.Won != (i%2 == 1) || d.Month != month(202601+i%4) {
			t.Errorf("deal %s: %+v, not its own fields", id, d)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("deals in the order %v, want %v", got, want)
	}
}
