package transform_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/bulk"
)

// findingEvent is a structured-mode security.finding event; extra holds
// optional data fields as JSON ("fixed_at": "...").
func findingEvent(id, typ, at, severity, status, detected string, extra map[string]string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"specversion":"1.0","id":"%s-%s","source":"test","type":"security.finding.%s","time":"%s","data":{`, id, typ, typ, at)
	fmt.Fprintf(&b, `"finding_id":"%s","scanner":"t","category":"sca","severity":"%s","service_id":"svc-a","status":"%s","detected_at":"%s"`, id, severity, status, detected)
	for k, v := range extra {
		fmt.Fprintf(&b, `,"%s":"%s"`, k, v)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

type slaRow struct {
	due    *time.Time
	within *uint8
	cohort *time.Time
}

func readSLA(t *testing.T, conn driver.Conn) map[string]slaRow {
	t.Helper()
	out := map[string]slaRow{}
	query(t, conn, "SELECT finding_id, sla_due_at, within_sla, sla_cohort_month FROM findings", nil, func(r driver.Rows) error {
		var id string
		var s slaRow
		if err := r.Scan(&id, &s.due, &s.within, &s.cohort); err != nil {
			return err
		}
		out[id] = s
		return nil
	})
	return out
}

func (s slaRow) String() string {
	f := func(t *time.Time) string {
		if t == nil {
			return "null"
		}
		return t.UTC().Format(time.DateOnly)
	}
	w := "null"
	if s.within != nil {
		w = fmt.Sprint(*s.within)
	}
	return "due " + f(s.due) + " within " + w + " cohort " + f(s.cohort)
}

// TestSLAPolicyOwnedByTransform: the transform is the one owner of the SLA
// policy. A due date the source sent is kept under any policy; one an
// older release's decoder derived (sla_policy_version set) is re-derived;
// every other one follows the refresh's policy, so changing the policy
// changes sla_due_at, within_sla, the scorecard and impact_stats. SLA
// outcomes count in the month the finding fell due (dismissed after it
// was overdue: missed), so a late fix does not change a past month.
func TestSLAPolicyOwnedByTransform(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := open(t)
	l := &bulk.Loader{Inserter: inserter(t, conn)}
	add := func(v []byte) {
		t.Helper()
		if err := l.Add(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	d := "2026-01-01T00:00:00Z"
	add(findingEvent("F-sent", "opened", d, "high", "open", d, map[string]string{"sla_due_at": "2026-03-01T00:00:00Z"}))
	add(findingEvent("F-fixed", "opened", d, "critical", "open", d, nil))
	add(findingEvent("F-fixed", "fixed", "2026-01-10T00:00:00Z", "critical", "fixed", d, map[string]string{"fixed_at": "2026-01-10T00:00:00Z"}))
	add(findingEvent("F-dismissed-late", "dismissed", "2026-03-01T00:00:00Z", "high", "dismissed", d, map[string]string{"dismissed_at": "2026-03-01T00:00:00Z"}))
	add(findingEvent("F-dismissed-in-time", "dismissed", "2026-01-15T00:00:00Z", "high", "dismissed", d, map[string]string{"dismissed_at": "2026-01-15T00:00:00Z"}))
	add(findingEvent("F-not-due", "opened", "2026-06-01T00:00:00Z", "low", "open", "2026-06-01T00:00:00Z", nil))
	add(findingEvent("F-fixed-early", "fixed", "2026-06-05T00:00:00Z", "low", "fixed", "2026-06-01T00:00:00Z", map[string]string{"fixed_at": "2026-06-05T00:00:00Z"}))
	add(findingEvent("F-overdue", "opened", "2026-03-01T00:00:00Z", "critical", "open", "2026-03-01T00:00:00Z", nil))
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A row stored by an older release whose decoder derived sla_due_at
	// (detected + 1 day under its policy "old-v0").
	var legacy schemas.Rows
	tbl, rej := (&schemas.Decoder{}).AppendMessage(&legacy, findingEvent("F-legacy", "opened", d, "critical", "open", d, map[string]string{"sla_due_at": "2026-01-02T00:00:00Z"}),
		nil, schemas.Lineage{Topic: "security.events", IngestedAt: time.Now()})
	if rej != nil {
		t.Fatal(rej)
	}
	blk := legacy.Block(tbl)
	if !blk.SetString(0, "sla_policy_version", "old-v0") {
		t.Fatal("finding_events has no sla_policy_version String column")
	}
	if err := blk.Insert(ctx, inserter(t, conn)); err != nil {
		t.Fatal(err)
	}

	asOf := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	check := func(want map[string]string) {
		t.Helper()
		got := readSLA(t, conn)
		for id, w := range want {
			if g := got[id].String(); g != w {
				t.Errorf("%s: %s, want %s", id, g, w)
			}
		}
	}
	scorecard := func() string {
		t.Helper()
		var out []string
		query(t, conn, "SELECT month, sla_within, sla_breached FROM department_scorecard WHERE sla_within + sla_breached > 0 ORDER BY month", nil, func(r driver.Rows) error {
			var m time.Time
			var w, b uint64
			if err := r.Scan(&m, &w, &b); err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%s %d/%d", m.Format("2006-01"), w, w+b))
			return nil
		})
		return strings.Join(out, ", ")
	}
	refresh(t, conn, transform.Options{AsOf: asOf})
	check(map[string]string{
		"F-sent":              "due 2026-03-01 within 0 cohort 2026-03-01",
		"F-legacy":            "due 2026-01-16 within 0 cohort 2026-01-01", // re-derived: 15 days
		"F-fixed":             "due 2026-01-16 within 1 cohort 2026-01-01",
		"F-dismissed-late":    "due 2026-01-31 within 0 cohort 2026-01-01",
		"F-dismissed-in-time": "due 2026-01-31 within null cohort null",
		"F-not-due":           "due 2026-11-28 within null cohort null",
		"F-fixed-early":       "due 2026-11-28 within 1 cohort null", // met, but its cohort is not due yet
		"F-overdue":           "due 2026-03-16 within 0 cohort 2026-03-01",
	})
	before := scorecard()
	if want := "2026-01 1/3, 2026-03 0/2"; before != want {
		t.Errorf("scorecard SLA by due month: %s, want %s", before, want)
	}

	strict, err := transform.ParseSLAPolicy("critical=7d,high=10d,low=30d", "strict-test")
	if err != nil {
		t.Fatal(err)
	}
	refresh(t, conn, transform.Options{AsOf: asOf, SLA: strict})
	check(map[string]string{
		"F-sent":              "due 2026-03-01 within 0 cohort 2026-03-01", // as sent, whatever the policy
		"F-legacy":            "due 2026-01-08 within 0 cohort 2026-01-01",
		"F-fixed":             "due 2026-01-08 within 0 cohort 2026-01-01", // fixed on day 9: now late
		"F-dismissed-late":    "due 2026-01-11 within 0 cohort 2026-01-01",
		"F-dismissed-in-time": "due 2026-01-11 within 0 cohort 2026-01-01", // dismissed on day 14: now overdue
		"F-not-due":           "due 2026-07-01 within null cohort null",
		"F-fixed-early":       "due 2026-07-01 within 1 cohort 2026-07-01",
		"F-overdue":           "due 2026-03-08 within 0 cohort 2026-03-01",
	})
	var stat float64
	if err := conn.QueryRow(ctx, "SELECT estimate FROM impact_stats WHERE metric = 'sla_compliance' AND dimension = 'department' AND period = 'all'").Scan(&stat); err != nil {
		t.Fatal(err)
	}
	if stat != 1.0/7 {
		t.Errorf("impact_stats sla_compliance under the strict policy = %v, want 1/7", stat)
	}

	// A late fix of the overdue finding lands: March keeps its miss.
	refresh(t, conn, transform.Options{AsOf: asOf})
	add(findingEvent("F-overdue", "fixed", "2026-05-01T00:00:00Z", "critical", "fixed", "2026-03-01T00:00:00Z", map[string]string{"fixed_at": "2026-05-01T00:00:00Z"}))
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	refresh(t, conn, transform.Options{AsOf: asOf, Full: true})
	check(map[string]string{"F-overdue": "due 2026-03-16 within 0 cohort 2026-03-01"})
	if after := scorecard(); after != before {
		t.Errorf("a late fix changed past months: %s, before %s", after, before)
	}
	// An incremental refresh with a later as-of time, no new event: the
	// finding fixed early joins its cohort once its due date has passed.
	if rep := refresh(t, conn, transform.Options{AsOf: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}); rep.Mode != transform.Incremental {
		t.Errorf("refresh mode %s, want incremental", rep.Mode)
	}
	check(map[string]string{"F-fixed-early": "due 2026-11-28 within 1 cohort 2026-11-01", "F-not-due": "due 2026-11-28 within 0 cohort 2026-11-01"})
}

// TestSLAFlipsInBaseAndDelta: an incremental refresh without new events
// recomputes exactly the findings that fell due since the last refresh
// (findings.touch.sql), whether the view holds their rows in its base or
// in its delta.
func TestSLAFlipsInBaseAndDelta(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := open(t)
	l := &bulk.Loader{Inserter: inserter(t, conn)}
	add := func(vs ...[]byte) {
		t.Helper()
		for _, v := range vs {
			if err := l.Add(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Critical: due 15 days after detection, on 5 July; low: in December.
	det := "2026-06-20T00:00:00Z"
	add(findingEvent("F-base", "opened", det, "critical", "open", det, nil),
		findingEvent("F-delta", "opened", det, "critical", "open", det, nil),
		findingEvent("F-not-due", "opened", det, "low", "open", det, nil))
	// A delta of up to the base's size is kept, not folded.
	opts := transform.Options{AsOf: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Overlap: time.Second, DeltaShare: 1}
	// Each refresh must record a watermark past the rows loaded before it,
	// so that the next one reads only the rows written later; INSERTs of
	// other tests on the server lower the watermark (snapshotWatermark).
	settle := func() {
		t.Helper()
		var newest time.Time
		if err := conn.QueryRow(ctx, "SELECT max(inserted_at) FROM finding_events").Scan(&newest); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
			wm, err := transform.Watermark(ctx, conn, opts)
			if err != nil {
				t.Fatal(err)
			}
			if wm.After(newest.Add(2 * time.Second)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the watermark (%s) did not pass the newest row (%s)", wm, newest)
			}
		}
	}
	settle()
	refresh(t, conn, opts)
	add(findingEvent("F-delta", "updated", "2026-06-25T00:00:00Z", "critical", "open", det, nil))
	settle()
	touched := func(rep transform.Report) uint64 {
		t.Helper()
		for _, tr := range rep.Tables {
			if tr.Table == "findings" {
				return tr.Touched
			}
		}
		t.Fatal("no findings in the report")
		return 0
	}
	if n := touched(refresh(t, conn, opts)); n != 1 {
		t.Fatalf("the update recomputed %d findings, want 1", n)
	}
	var ddl string
	if err := conn.QueryRow(ctx, "SHOW CREATE TABLE findings").Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, "findings_delta_") {
		t.Fatalf("findings has no delta (the case did not happen):\n%s", ddl)
	}
	want := map[string]string{"F-base": "due 2026-07-05 within null cohort null", "F-delta": "due 2026-07-05 within null cohort null",
		"F-not-due": "due 2026-12-17 within null cohort null"}
	check := func() {
		t.Helper()
		got := readSLA(t, conn)
		for id, w := range want {
			if g := got[id].String(); g != w {
				t.Errorf("%s: %s, want %s", id, g, w)
			}
		}
	}
	check()
	opts.AsOf = time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC)
	settle()
	if n := touched(refresh(t, conn, opts)); n != 2 {
		t.Errorf("the overdue findings' flip recomputed %d findings, want 2", n)
	}
	want["F-base"], want["F-delta"] = "due 2026-07-05 within 0 cohort 2026-07-01", "due 2026-07-05 within 0 cohort 2026-07-01"
	check()
}
