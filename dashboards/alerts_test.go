package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/bulk"
)

// planter writes contract events for the planted departments through the
// same decoder ingest uses (transform/bulk).
type planter struct {
	t   *testing.T
	l   *bulk.Loader
	seq int
}

func (p *planter) event(typ, id string, at time.Time, data map[string]any) {
	p.t.Helper()
	p.seq++
	b, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": fmt.Sprintf("%s.%d", id, p.seq), "source": "impact-test/planted", "type": typ,
		"time": at.UTC().Format(time.RFC3339), "subject": id, "datacontenttype": "application/json", "data": data,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.l.Add(context.Background(), b); err != nil {
		p.t.Fatal(err)
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// plantDepartments adds two departments to the simulated organisation:
// Planted, where every department alert's condition holds at end, and
// Control, which has data for every rule but none of the conditions.
func plantDepartments(t *testing.T, cfg config.ClickHouse, end time.Time) {
	ctx := context.Background()
	ins, err := chconn.NewInserter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	p := &planter{t: t, l: &bulk.Loader{Inserter: ins}}
	day := 24 * time.Hour
	for _, d := range []string{"Planted", "Control"} {
		svc := "svc-" + strings.ToLower(d)
		p.event("catalog.service.upserted", svc, end.Add(-800*day), map[string]any{
			"service_id": svc, "team": strings.ToLower(d) + "-ops", "department": d, "tier": "high",
			"internet_facing": true, "effective_at": ts(end.Add(-800 * day))})
	}
	finding := func(id, svc, sev string, detected time.Time, extra map[string]any) {
		data := map[string]any{"finding_id": id, "scanner": "planted", "category": "sast", "severity": sev,
			"service_id": svc, "status": "open", "detected_at": ts(detected)}
		for k, v := range extra {
			data[k] = v
		}
		p.event("security.finding.opened", id, detected, data)
	}
	// SLA: Planted has a critical 20 days old (due after 15); Control's
	// critical is 10 days old, its high was fixed in time.
	finding("PLT-F1", "svc-planted", "critical", end.Add(-20*day), nil)
	finding("CTL-F1", "svc-control", "critical", end.Add(-10*day), nil)
	finding("CTL-F2", "svc-control", "high", end.Add(-40*day), nil)
	p.event("security.finding.fixed", "CTL-F2", end.Add(-35*day), map[string]any{"finding_id": "CTL-F2", "scanner": "planted",
		"category": "sast", "severity": "high", "service_id": "svc-control", "status": "fixed",
		"detected_at": ts(end.Add(-40 * day)), "fixed_at": ts(end.Add(-35 * day))})
	// Security debt: Planted's high finding turned a year old within the
	// last 30 days; Control's has been debt all along (and is not
	// overdue: its contractual due date is later).
	finding("PLT-F2", "svc-planted", "high", end.Add(-380*day), nil)
	finding("CTL-F3", "svc-control", "high", end.Add(-500*day), map[string]any{"sla_due_at": ts(end.Add(30 * day))})
	// Cost of risk: a 500,000 USD incident charged to Planted, 6,000 to Control.
	for _, inc := range []struct {
		id, dept string
		cost     int
	}{{"PLT-I1", "Planted", 500000}, {"CTL-I1", "Control", 6000}} {
		det := end.Add(-30 * day)
		p.event("security.incident.resolved", inc.id, det.Add(day), map[string]any{"incident_id": inc.id, "severity": "high",
			"category": "misconfiguration", "status": "resolved", "affected_service_ids": []string{"svc-" + strings.ToLower(inc.dept)},
			"affected_account_ids": []string{}, "contributing_departments": []string{inc.dept}, "cost_usd": inc.cost,
			"detected_at": ts(det), "resolved_at": ts(det.Add(day))})
	}
	// Gate blocks: 20 deployments in the 28 days before the last 7 (1 and
	// 2 blocked), then 12 in the last 7 days: 9 blocked at Planted, 1 at
	// Control.
	n := 0
	deploy := func(svc string, at time.Time, blocked bool) {
		n++
		id, commit := fmt.Sprintf("PLT-D%03d", n), fmt.Sprintf("%040d", n)
		if blocked {
			p.event("security.gate.evaluated", "PLT-G"+id, at.Add(-time.Hour), map[string]any{"run_id": "PLT-G" + id, "service_id": svc,
				"commit_sha": commit, "tool": "planted", "result": "fail", "blocking": true,
				"started_at": ts(at.Add(-2 * time.Hour)), "completed_at": ts(at.Add(-time.Hour))})
		}
		p.event("deployment.finished", id, at.Add(10*time.Minute), map[string]any{"deployment_id": id, "service_id": svc,
			"environment": "production", "commit_sha": commit, "first_commit_at": ts(at.Add(-30 * time.Hour)), "started_at": ts(at),
			"finished_at": ts(at.Add(10 * time.Minute)), "status": "success", "trigger": "feature"})
	}
	for _, c := range []struct {
		svc                     string
		baseBlocked, newBlocked int
	}{{"svc-planted", 1, 9}, {"svc-control", 2, 1}} {
		for i := 0; i < 20; i++ {
			deploy(c.svc, end.Add(-34*day+time.Duration(i)*day), i < c.baseBlocked)
		}
		for i := 0; i < 12; i++ {
			deploy(c.svc, end.Add(-6*day+time.Duration(i)*12*time.Hour), i < c.newBlocked)
		}
	}
	if err := p.l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// evaluate runs a rule's query, rendered for the range ending at end, and
// returns its rows as label set -> value.
func evaluate(t *testing.T, conn driver.Conn, r AlertRule, end time.Time) (map[string]float64, string) {
	t.Helper()
	sql, err := r.Query()
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := Dashboard{}.Render(sql, nil, Request{From: end.Add(-r.Range), To: end, Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cols, types, rows := query(t, context.Background(), conn, rendered)
	numeric := 0
	for i, c := range cols {
		if strings.HasPrefix(types[i], "String") {
			continue
		}
		numeric++
		if c != "value" {
			t.Errorf("%s: numeric column %s: Grafana alerting on tables takes exactly one numeric column, value", r.Name, c)
		}
	}
	if numeric != 1 {
		t.Errorf("%s: %d numeric columns", r.Name, numeric)
	}
	out := map[string]float64{}
	for _, row := range rows {
		var labels []string
		for _, c := range cols {
			if c != "value" {
				labels = append(labels, c+"="+fmt.Sprint(row[c]))
			}
		}
		key := strings.Join(labels, ",")
		if _, dup := out[key]; dup {
			t.Errorf("%s: two rows with labels %q: Grafana needs unique label sets", r.Name, key)
		}
		out[key] = num(t, row, "value")
	}
	return out, rendered
}

// TestAlertRulesFire runs every alert rule's SQL on ClickHouse 18.16 over a
// simulated organisation with two planted departments: each department
// rule fires for Planted (the condition holds) and not for Control (data,
// no condition); each pipeline rule fires once its condition is planted
// and not before. The same rendered queries then run in chdb (current
// ClickHouse) over a copy of the same tables and must answer the same.
func TestAlertRulesFire(t *testing.T) {
	ctx := context.Background()
	db := "impact_alerts"
	srv, conn, truth := pipelinetest.LoadOwn(t, db, simulate.Options{Seed: 13, Days: 90})
	end := truth.End
	plantDepartments(t, srv.Config(db), end)
	if _, err := transform.Refresh(ctx, conn, transform.Options{AsOf: end, Full: true}); err != nil {
		t.Fatal(err)
	}
	th := Thresholds{}
	type eval struct {
		rule AlertRule
		at   time.Time
		sql  string
		got  map[string]float64
	}
	var evals []eval
	check := func(r AlertRule, at time.Time, label string, wantFire bool) {
		t.Helper()
		got, sql := evaluate(t, conn, r, at)
		evals = append(evals, eval{r, at, sql, got})
		v, ok := got[label]
		if !ok {
			t.Errorf("%s at %s: no row %q in %v", r.Name, at.Format(time.RFC3339), label, got)
			return
		}
		if r.Fires(v, th) != wantFire {
			t.Errorf("%s at %s, %s: value %v, threshold %v: fires %v, want %v", r.Name, at.Format(time.RFC3339), label, v, r.Threshold(th), !wantFire, wantFire)
		}
	}
	rules := map[string]AlertRule{}
	for _, r := range AlertRules() {
		rules[r.Name] = r
		if r.Department {
			check(r, end, "department=Planted", true)
			check(r, end, "department=Control", false)
		}
	}

	// Pipeline health: healthy first, then the condition planted.
	now := time.Now().UTC().Truncate(time.Second)
	insert := func(table, cols string, rows [][]any) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+cols+")")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for _, r := range rows {
			if err := b.Append(r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	const progressCols = "consumer_group, kafka_topic, kafka_partition, member, committed_offset, high_watermark, lag, progress_at, reported_at"
	insert("ingest_progress", progressCols, [][]any{
		{"impact", "security.events", int32(0), "m1", int64(500), int64(500), int64(0), now.Add(-time.Hour), now.Add(-30 * time.Second)}})
	var raw [][]any
	for i := 0; i < 200; i++ {
		raw = append(raw, []any{"impact-test", fmt.Sprintf("e%d", i), "security.finding.opened", now.Add(-time.Hour), "x", "x", "", "{}",
			"security.events", int32(0), int64(i), now.Add(-time.Duration(i) * 3 * time.Second)})
	}
	insert("events_raw", "event_source, event_id, event_type, event_time, subject, entity_id, data_schema, payload, kafka_topic, kafka_partition, kafka_offset, ingested_at", raw)
	check(rules["ingest_stalled"], now, "", false)
	check(rules["dlq_rate"], now, "", false)
	check(rules["transform_stale"], now.Add(10*time.Minute), "", false)

	insert("ingest_progress", progressCols, [][]any{
		{"impact", "security.events", int32(1), "m1", int64(100), int64(250), int64(150), now.Add(-10 * time.Minute), now.Add(-30 * time.Second)}})
	var rej [][]any
	for i := 0; i < 20; i++ {
		rej = append(rej, []any{"security.events", int32(2), int64(i), now.Add(-5 * time.Minute), "data.severity", "enum", "x", "", "", "", ""})
	}
	insert("ingest_rejects", "kafka_topic, kafka_partition, kafka_offset, rejected_at, field, rule, detail, event_source, event_id, event_type, payload_prefix", rej)
	check(rules["ingest_stalled"], now, "", true)
	check(rules["dlq_rate"], now, "", true)
	check(rules["transform_stale"], now.Add(time.Hour), "", true)

	// The same rendered queries on a current ClickHouse, over the same
	// rows, answer the same (the planted-phase answers of the pipeline
	// rules are the ones the copy holds).
	setup, err := pipelinetest.CopyTables(ctx, conn, srv.HTTPAddr(), db, []string{
		"findings", "department_scorecard", "deployment_facts", "ingest_progress", "ingest_rejects", "events_raw", "transform_runs"})
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	var last []eval
	seen := map[string]bool{}
	for i := len(evals) - 1; i >= 0; i-- {
		e := evals[i]
		key := e.rule.Name + e.at.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		last = append(last, e)
		queries = append(queries, qualify(e.sql, db))
	}
	users := `<clickhouse><profiles><default/></profiles><users><default><password></password><networks><ip>::/0</ip></networks>
<profile>default</profile><quota>default</quota></default></users><quotas><default/></quotas></clickhouse>`
	res, answers, err := sqlcheck.RunAs(ctx, setup, users, queries)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range answers {
		e := last[i]
		if !a.OK {
			t.Errorf("%s fails on ClickHouse %s (chdb): %s", e.rule.Name, res.Version, a.Error)
			continue
		}
		if got, want := tsvValues(a.Rows), e.got; !sameValues(got, want) {
			t.Errorf("%s at %s: chdb answers %v, 18.16 %v", e.rule.Name, e.at.Format(time.RFC3339), got, want)
		}
	}
	t.Logf("%d alert queries agree on ClickHouse 18.16 and %s (chdb)", len(queries), res.Version)
}

// qualify makes the tables an alert query reads database-qualified (chdb
// runs it with no current database).
func qualify(sql, db string) string {
	for _, t := range []string{"findings", "department_scorecard", "deployment_facts", "ingest_progress", "ingest_rejects", "events_raw", "transform_runs"} {
		sql = strings.ReplaceAll(sql, "FROM "+t+"\n", "FROM "+db+"."+t+"\n")
		sql = strings.ReplaceAll(sql, "FROM "+t+" ", "FROM "+db+"."+t+" ")
		if strings.HasSuffix(sql, "FROM "+t) {
			sql = strings.TrimSuffix(sql, t) + db + "." + t
		}
	}
	return sql
}

// tsvValues reads TabSeparated rows whose last column is the value: label
// set (the other columns, as column=value is unknown here: their texts
// joined) -> value.
func tsvValues(rows string) []float64 {
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(rows), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		var v float64
		fmt.Sscan(f[len(f)-1], &v)
		if f[len(f)-1] == "nan" {
			v = math.NaN()
		}
		out = append(out, v)
	}
	return out
}

// sameValues compares chdb's values (in row order) with 18.16's (label ->
// value; the queries order their rows by the labels).
func sameValues(got []float64, want map[string]float64) bool {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(got) != len(keys) {
		return false
	}
	for i, k := range keys {
		w := want[k]
		if math.IsNaN(w) != math.IsNaN(got[i]) || !math.IsNaN(w) && math.Abs(w-got[i]) > 1e-9*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}
