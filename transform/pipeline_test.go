package transform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
	"github.com/secimpact/impact/transform/bulk"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// asJSON returns v as generic JSON (maps, float64s, ...).
func asJSON(v any) any {
	var out any
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &out)
	return out
}

// diff compares got with want through their JSON form: every field of
// want must be in got and equal, numbers with a relative tolerance of 1e-9
// (the truth's float rates are ratios of exact counts). Fields only in got
// are ignored. It returns the differing paths.
func diff(got, want any) []string {
	var out []string
	var walk func(path string, g, w any)
	walk = func(path string, g, w any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
				return
			}
			var ks []string
			for k := range wv {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				if _, ok := gv[k]; !ok {
					out = append(out, fmt.Sprintf("%s.%s: missing, want %v", path, k, wv[k]))
					continue
				}
				walk(path+"."+k, gv[k], wv[k])
			}
		case float64:
			gv, ok := g.(float64)
			if !ok || math.Abs(gv-wv) > 1e-9*math.Max(1, math.Abs(wv)) {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
			}
		default:
			if fmt.Sprint(g) != fmt.Sprint(w) {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
			}
		}
	}
	walk("", asJSON(got), asJSON(want))
	return out
}

// compareTruth checks every count and rate of the fact tables against the
// simulator's realised truth.
func compareTruth(t *testing.T, conn driver.Conn, truth *simulate.Truth) {
	t.Helper()
	o := observe(t, conn, truth.End)
	want := asJSON(truth).(map[string]any)
	got := map[string]any{
		"deals":       asJSON(o.Deals),
		"deployments": asJSON(o.Deployments),
		"tickets":     asJSON(o.Tickets),
		"findings":    asJSON(o.Findings),
		"departments": asJSON(o.Departments),
		"durations": map[string]any{
			"security_fix_lead":     asJSON(o.SecurityFixLead),
			"vendor_cycle":          asJSON(o.VendorCycle),
			"policy_exception_open": asJSON(o.PolicyExceptionOpen),
		},
	}
	got["deployments"].(map[string]any)["security_fix_lead"] = asJSON(o.SecurityFixLead)
	got["dora"] = asJSON(observeDORA(t, conn))
	for dep, d := range got["departments"].(map[string]any) {
		m := d.(map[string]any)
		m["vendor_assessments_completed"] = float64(o.VendorCycle[dep].N)
		m["vendor_cycle_seconds"] = float64(o.VendorCycle[dep].Seconds)
		m["policy_exception_resolved_seconds"] = float64(o.PolicyExceptionOpen[dep].Seconds)
	}
	// Figures that live outside the fact tables (entity counts of open
	// deals, gate runs, which events carried sla_due_at) are not compared.
	deals, deps, finds := want["deals"].(map[string]any), want["deployments"].(map[string]any), want["findings"].(map[string]any)
	for _, k := range []string{"opportunities", "open"} {
		delete(deals, k)
	}
	for _, k := range []string{"gate_runs", "gate_runs_by_result", "gate_blocking_fails", "gate_blocking_waived"} {
		delete(deps, k)
	}
	delete(finds, "with_sla_due_at")
	for _, section := range []string{"deals", "deployments", "tickets", "findings", "departments", "durations", "dora"} {
		w, ok := want[section]
		if !ok {
			continue
		}
		d := diff(got[section], w)
		if len(d) > 0 {
			if len(d) > 25 {
				d = append(d[:25], fmt.Sprintf("... and %d more", len(d)-25))
			}
			t.Errorf("%s differs from the truth:\n  %s", section, strings.Join(d, "\n  "))
		}
	}
	if truth.Deals.Closed == 0 || truth.Findings.Findings == 0 || truth.Tickets.Tickets == 0 || truth.Deployments.Deployments == 0 {
		t.Fatalf("degenerate simulation: %+v", truth.Delivery)
	}
}

// loadSimulation simulates opts and bulk-loads the valid events (with the
// duplicates and out-of-order deliveries the simulator plants) into the
// typed tables. split, when in (0,1), loads that share of the lines first
// with ingested_at t0 and returns a function that loads the rest with
// ingested_at t1.
func loadSimulation(t *testing.T, conn driver.Conn, opts simulate.Options, split float64, t0, t1 time.Time) (*simulate.Truth, func()) {
	t.Helper()
	ctx := context.Background()
	var lines [][]byte
	truth, err := simulate.Run(ctx, opts, func(r simulate.Record) error {
		lines = append(lines, r.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cut := len(lines)
	if split > 0 && split < 1 {
		cut = int(float64(len(lines)) * split)
	}
	// Rows are stamped one second apart, like a steady ingest, so the
	// incremental refresh's overlap window re-reads only the last few.
	load := func(part [][]byte, at time.Time) {
		l := &bulk.Loader{Inserter: inserter(t, conn), IngestedAt: at, Step: time.Second}
		for _, v := range part {
			if err := l.Add(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	load(lines[:cut], t0)
	rest := func() { load(lines[cut:], t1) }
	if cut == len(lines) {
		rest = func() {}
	}
	return truth, rest
}

// open returns a connection to a fresh database with the migrations
// applied. The statements are run directly (migrations.Statements) rather
// than through testenv.ClickHouse, whose migration lock timed out on 18.16
// when this was written.
// inserters holds the Inserter of each connection openDB made, for the
// bulk loads of tests that only keep the connection.
var inserters sync.Map // driver.Conn -> *chconn.Inserter

// inserter is the Inserter writing to conn's database.
func inserter(t *testing.T, conn driver.Conn) *chconn.Inserter {
	t.Helper()
	ins, ok := inserters.Load(conn)
	if !ok {
		t.Fatal("no inserter for this connection: open it with openDB")
	}
	return ins.(*chconn.Inserter)
}

func open(t *testing.T) driver.Conn {
	t.Helper()
	_, conn := openDB(t)
	return conn
}

func openDB(t *testing.T) (config.ClickHouse, driver.Conn) {
	t.Helper()
	cfg := testenv.ClickHouseEmpty(t)
	ctx := context.Background()
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ins, err := chconn.NewInserter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inserters.Store(conn, ins)
	t.Cleanup(func() { inserters.Delete(conn); ins.Close() })
	stmts, err := migrations.Statements(migrations.Options{Database: cfg.DB()})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("migrate: %v\n%s", err, q)
		}
	}
	return cfg, conn
}

func refresh(t *testing.T, conn driver.Conn, opts transform.Options) transform.Report {
	t.Helper()
	rep, err := transform.Refresh(context.Background(), conn, opts)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	return rep
}

// TestPipelineTruth: simulate (seeded, default 365 days, with late,
// out-of-order and duplicate deliveries) -> load -> transform; every count
// and rate of the fact tables equals the truth. 99% of the lines are loaded
// first and refreshed in full, the last 1% afterwards and refreshed
// incrementally; the result must equal the truth and a full rebuild.
func TestPipelineTruth(t *testing.T) {
	conn := open(t)
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(365 * 24 * time.Hour) // after every first-part row
	truth, rest := loadSimulation(t, conn, simulate.Options{Seed: 11}, 0.99, t0, t1)
	if truth.Delivery.Duplicates == 0 || truth.Delivery.OutOfOrder == 0 {
		t.Fatalf("simulation has no mess to survive: %+v", truth.Delivery)
	}
	// A steady ingest re-reads only the rows written within the overlap
	// before a refresh: let the bulk load's last second pass.
	opts := transform.Options{AsOf: truth.End, Overlap: time.Second}
	time.Sleep(3 * time.Second)
	if rep := refresh(t, conn, opts); rep.Mode != transform.Full {
		t.Errorf("first refresh mode = %s, want full", rep.Mode)
	}
	rest()
	inc := refresh(t, conn, opts)
	for _, tr := range inc.Tables {
		// impact_stats waits for the tables it reads, which are built
		// within the refresh; no other table waits.
		if stats := tr.Table == transform.StatsTable; (tr.Waited > 0) != stats || tr.Waited > tr.Duration {
			t.Errorf("%s: waited %s of %s", tr.Table, tr.Waited, tr.Duration)
		}
		if tr.Table == "findings" || tr.Table == "deal_facts" || tr.Table == "deployment_facts" || tr.Table == "ticket_facts" {
			if tr.Mode != transform.Incremental || tr.Touched == 0 || tr.Touched >= tr.Rows {
				t.Errorf("%s: mode %s touched %d of %d rows, want an incremental refresh of a few", tr.Table, tr.Mode, tr.Touched, tr.Rows)
			}
		}
	}
	t.Run("facts equal truth after incremental refresh", func(t *testing.T) { compareTruth(t, conn, truth) })
	t.Run("incremental equals full", func(t *testing.T) {
		before := snapshot(t, conn)
		refresh(t, conn, transform.Options{AsOf: truth.End, Full: true})
		after := snapshot(t, conn)
		for table, rows := range after {
			if before[table] != rows {
				b, a := strings.Split(before[table], "\n"), strings.Split(rows, "\n")
				for i := 0; i < len(a) && i < len(b); i++ {
					if a[i] != b[i] {
						t.Errorf("%s: incremental and full refresh differ (%d vs %d rows); first difference:\nincremental %s\nfull        %s", table, len(b), len(a), b[i], a[i])
						break
					}
				}
			}
		}
	})
	t.Run("planted effects recovered", func(t *testing.T) { checkPlanted(t, conn, truth) })
}

// snapshot returns every contract table's rows as sorted text lines,
// without the computed_at column of impact_stats.
func snapshot(t *testing.T, conn driver.Conn) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range transform.Tables() {
		cols := "*"
		if table == transform.StatsTable {
			cols = "metric, dimension, dimension_value, n, estimate, ci_low, ci_high, method, evidence, p_value, p_adjusted, unit, as_of, " +
				"period, period_grain, period_start, period_end, naive_ci_low, naive_ci_high, cluster, clusters, mde, min_n, enough_n, note"
		}
		rows, err := conn.Query(context.Background(), "SELECT "+cols+" FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		cts := rows.ColumnTypes()
		for rows.Next() {
			vals := make([]any, len(cts))
			for i, ct := range cts {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, v := range vals {
				e := reflect.ValueOf(v).Elem()
				for e.Kind() == reflect.Pointer && !e.IsNil() {
					e = e.Elem()
				}
				fmt.Fprintf(&b, "%v\t", e.Interface())
			}
			lines = append(lines, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		sort.Strings(lines)
		out[table] = strings.Join(lines, "\n")
	}
	return out
}

type statRow struct {
	n                   uint64
	est, low, high      *float64
	method, evidence    string
	naiveLow, naiveHigh *float64
	cluster             string
	mde                 *float64
}

func readStats(t *testing.T, conn driver.Conn) map[string]statRow {
	t.Helper()
	out := map[string]statRow{}
	query(t, conn, "SELECT metric, dimension, dimension_value, n, estimate, ci_low, ci_high, method, evidence, naive_ci_low, naive_ci_high, cluster, mde FROM impact_stats WHERE period = 'all'", nil,
		func(r driver.Rows) error {
			var m, d, v string
			var s statRow
			if err := r.Scan(&m, &d, &v, &s.n, &s.est, &s.low, &s.high, &s.method, &s.evidence, &s.naiveLow, &s.naiveHigh, &s.cluster, &s.mde); err != nil {
				return err
			}
			out[m+"/"+d+"/"+v] = s
			return nil
		})
	return out
}

// checkPlanted: the planted effects are recovered at the default volume,
// each 95% interval excluding 0 and containing the planted value, and the
// confounded pooled win-rate difference differs from the stratified one.
func checkPlanted(t *testing.T, conn driver.Conn, truth *simulate.Truth) {
	st := readStats(t, conn)
	get := func(key string) statRow {
		s, ok := st[key]
		if !ok || s.est == nil || s.low == nil || s.high == nil {
			t.Fatalf("impact_stats has no interval for %s (%+v)", key, s)
		}
		t.Logf("%s: n=%d %.4f [%.4f, %.4f] %s %s", key, s.n, *s.est, *s.low, *s.high, s.method, s.evidence)
		return s
	}
	p := truth.Params
	for _, c := range []struct {
		key      string
		planted  float64
		evidence string
	}{
		{"win_rate_diff_fast_minus_slow/stratified/segment", p.SlowReviewPenalty, "adjusted"},
		{"csat_incident_drop/all/after_minus_own_baseline", -p.CSATDrop, "quasi_experiment"},
		{"gate_delay_hours/all/blocked_minus_unblocked", p.GateDelayHours, "descriptive"},
	} {
		s := get(c.key)
		if *s.low <= 0 && *s.high >= 0 {
			t.Errorf("%s: interval [%.4f, %.4f] does not exclude 0", c.key, *s.low, *s.high)
		}
		if c.planted < *s.low || c.planted > *s.high {
			t.Errorf("%s: interval [%.4f, %.4f] does not contain the planted %.4f", c.key, *s.low, *s.high, c.planted)
		}
		if s.evidence != c.evidence {
			t.Errorf("%s: evidence %s, want %s", c.key, s.evidence, c.evidence)
		}
	}
	pooled := get("win_rate_diff_fast_minus_slow/all/pooled")
	strat := get("win_rate_diff_fast_minus_slow/stratified/segment")
	if *pooled.low <= 0 {
		t.Errorf("pooled difference interval [%.4f, %.4f] does not exclude 0", *pooled.low, *pooled.high)
	}
	// Enterprise deals are reviewed slowly and win less anyway, so the
	// pooled figure overstates the review effect.
	if *pooled.est-*strat.est < 0.02 {
		t.Errorf("pooled %.4f vs stratified %.4f: the confounding does not show", *pooled.est, *strat.est)
	}
	near := func(what string, got, want float64) {
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, truth %v", what, got, want)
		}
	}
	near("pooled estimate", *pooled.est, truth.Deals.FastMinusSlowPooled)
	near("stratified estimate", *strat.est, truth.Deals.FastMinusSlowStratified)
	// The planted account effects make deals of one account go together:
	// the account-clustered intervals are wider than the independence
	// ones beside them, and each comparison states its detectable effect.
	for _, k := range []string{"win_rate_diff_fast_minus_slow/all/pooled", "win_rate_diff_fast_minus_slow/stratified/segment"} {
		s := get(k)
		if s.cluster != "account" || s.naiveLow == nil || s.naiveHigh == nil || s.mde == nil {
			t.Fatalf("%s: cluster %q naive %v %v mde %v", k, s.cluster, s.naiveLow, s.naiveHigh, s.mde)
		}
		if w, nw := *s.high-*s.low, *s.naiveHigh-*s.naiveLow; w <= nw {
			t.Errorf("%s: clustered interval width %.4f not above the naive %.4f", k, w, nw)
		}
		t.Logf("%s: clustered [%.4f, %.4f], naive [%.4f, %.4f], mde %.4f", k, *s.low, *s.high, *s.naiveLow, *s.naiveHigh, *s.mde)
	}
	rev := get("revenue_associated_slow_reviews_usd/stratified/segment")
	if *rev.est <= 0 || *rev.low > *rev.est || *rev.high < *rev.est {
		t.Errorf("revenue associated with slow reviews %v [%v, %v]", *rev.est, *rev.low, *rev.high)
	}
	if g := get("gate_delay_hours/all/blocked_minus_unblocked"); g.cluster != "service" || g.naiveLow == nil {
		t.Errorf("gate delay: cluster %q, naive %v", g.cluster, g.naiveLow)
	}
}
