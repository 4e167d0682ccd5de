package brief

import (
	"context"
	"math"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
)

// wilson95 and mover95 are the test's own formulas (Wilson 1927; Zou and
// Donner 2008), independent of transform/stats.
func wilson95(x, n float64) (p, lo, hi float64) {
	z := 1.959963984540054
	p = x / n
	c := (p + z*z/(2*n)) / (1 + z*z/n)
	h := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / (1 + z*z/n)
	return p, c - h, c + h
}

func mover95(a, alo, ahi, b, blo, bhi float64) (d, lo, hi float64) {
	d = a - b
	return d, d - math.Sqrt((a-alo)*(a-alo)+(bhi-b)*(bhi-b)), d + math.Sqrt((ahi-a)*(ahi-a)+(b-blo)*(b-blo))
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// direct computes a department's shares for p straight from the analyst
// tables: SLA compliance and gate block rate from department_scorecard,
// change failure rate from dora_changes.
func direct(t *testing.T, conn driver.Conn, dept string, p Period) map[string][2]float64 {
	t.Helper()
	ctx := context.Background()
	var within, breached, deps, blocked, changes, failed uint64
	if err := conn.QueryRow(ctx, `SELECT sum(sla_within), sum(sla_breached), sum(deployments), sum(gate_blocked_deployments)
FROM department_scorecard WHERE department = @d AND month >= toDate(@f) AND month < toDate(@t)`,
		clickhouse.Named("d", dept), clickhouse.Named("f", p.From), clickhouse.Named("t", p.To)).Scan(&within, &breached, &deps, &blocked); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(), sum(change_failure) FROM dora_changes
WHERE department = @d AND finished_at >= @f AND finished_at < @t`,
		clickhouse.Named("d", dept), clickhouse.Named("f", p.From), clickhouse.Named("t", p.To)).Scan(&changes, &failed); err != nil {
		t.Fatal(err)
	}
	return map[string][2]float64{
		titleSLA:       {float64(within), float64(within + breached)},
		titleBlockRate: {float64(blocked), float64(deps)},
		titleCFR:       {float64(failed), float64(changes)},
	}
}

// TestCompareEqualsDirect loads a department's Q2 and Q1 briefs of a
// simulated organisation, compares them, and checks every share, its
// interval, the change and the change's interval against the same figures
// computed here from the rows; then the company brief's changes against
// its two periods' figures, and revenue lost against the rows.
func TestCompareEqualsDirect(t *testing.T) {
	s := pipelinetest.Load(t, simulate.Options{Seed: 17, Days: 200})
	ctx := context.Background()
	q2, _ := ParsePeriod("2026-Q2")
	q1 := q2.Previous()

	dept := "Engineering"
	opts := LoadOptions{Department: dept}
	cur, err := Load(ctx, s.Conn, q2, opts)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := Load(ctx, s.Conn, q1, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(cur, prev, "previous quarter (2026-Q1)")
	dc, dp := direct(t, s.Conn, dept, q2), direct(t, s.Conn, dept, q1)
	checked := 0
	for _, ch := range c.Changes {
		x, ok := dc[ch.Title]
		if !ok {
			continue
		}
		y := dp[ch.Title]
		a, alo, ahi := wilson95(x[0], x[1])
		b, blo, bhi := wilson95(y[0], y[1])
		a, alo, ahi, b, blo, bhi = 100*a, 100*alo, 100*ahi, 100*b, 100*blo, 100*bhi
		if !approx(ch.Current.Estimate, a) || !approx(ch.Current.Low, alo) || !approx(ch.Current.High, ahi) || ch.Current.N != int64(x[1]) {
			t.Errorf("%s Q2: brief %v [%v, %v] n=%d, direct %v [%v, %v] n=%v", ch.Title, ch.Current.Estimate, ch.Current.Low, ch.Current.High, ch.Current.N, a, alo, ahi, x[1])
		}
		if !approx(ch.Previous.Estimate, b) || ch.Previous.N != int64(y[1]) {
			t.Errorf("%s Q1: brief %v n=%d, direct %v n=%v", ch.Title, ch.Previous.Estimate, ch.Previous.N, b, y[1])
		}
		d, lo, hi := mover95(a, alo, ahi, b, blo, bhi)
		if !approx(ch.Change, d) || !approx(ch.Low, lo) || !approx(ch.High, hi) {
			t.Errorf("%s change: brief %v [%v, %v], direct %v [%v, %v]", ch.Title, ch.Change, ch.Low, ch.High, d, lo, hi)
		}
		if ch.Distinguishable != (lo > 0 || hi < 0) {
			t.Errorf("%s: distinguishable %v with [%v, %v]", ch.Title, ch.Distinguishable, lo, hi)
		}
		if x[1] < 30 || y[1] < 30 {
			t.Errorf("%s: n %v and %v, too few for the check to mean much", ch.Title, x[1], y[1])
		}
		checked++
	}
	if checked != 3 {
		t.Errorf("%d department shares checked, want 3", checked)
	}

	// The company brief: each change is its two figures' difference with
	// the MOVER interval, totals get no interval.
	cur, err = Load(ctx, s.Conn, q2, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prev, err = Load(ctx, s.Conn, q1, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c = Compare(cur, prev, "previous quarter (2026-Q1)")
	if len(c.Changes) != len(cur.Headlines) {
		t.Fatalf("%d changes of %d headlines", len(c.Changes), len(cur.Headlines))
	}
	for _, ch := range c.Changes {
		f, p := ch.Current, ch.Previous
		switch {
		case f.Suppressed || p.Suppressed:
			if !math.IsNaN(ch.Change) {
				t.Errorf("%s: a change of a greyed-out figure", ch.Title)
			}
		case math.IsNaN(f.Low):
			if !approx(ch.Change, f.Estimate-p.Estimate) || !math.IsNaN(ch.Low) || ch.Distinguishable {
				t.Errorf("%s (a total): change %v [%v, %v]", ch.Title, ch.Change, ch.Low, ch.High)
			}
		default:
			d, lo, hi := mover95(f.Estimate, f.Low, f.High, p.Estimate, p.Low, p.High)
			if !approx(ch.Change, d) || !approx(ch.Low, lo) || !approx(ch.High, hi) {
				t.Errorf("%s: change %v [%v, %v], want %v [%v, %v]", ch.Title, ch.Change, ch.Low, ch.High, d, lo, hi)
			}
		}
	}
	var lost [2]float64
	for i, p := range []Period{q2, q1} {
		if err := s.Conn.QueryRow(ctx, "SELECT sum(amount_usd) FROM deal_facts WHERE outcome = 'lost' AND loss_reason = 'security' AND closed_at >= @f AND closed_at < @t",
			clickhouse.Named("f", p.From), clickhouse.Named("t", p.To)).Scan(&lost[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range c.Changes {
		if ch.Title == "Revenue lost to security reasons" && !approx(ch.Change, lost[0]-lost[1]) {
			t.Errorf("revenue lost change %v, direct %v", ch.Change, lost[0]-lost[1])
		}
	}
}
