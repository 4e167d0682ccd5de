package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/query"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
)

// example is one analyst question of testdata/readme_examples.sql, the
// file the README's examples are taken from.
type example struct {
	name, sql string
}

func readmeExamples(t *testing.T) []example {
	t.Helper()
	b, err := os.ReadFile("testdata/readme_examples.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, block := range strings.Split(string(b), "-- name: ")[1:] {
		name, body, _ := strings.Cut(block, "\n")
		out = append(out, example{name: strings.TrimSpace(name), sql: strings.TrimSpace(body)})
	}
	return out
}

func num(t *testing.T, row map[string]any, col string) float64 {
	t.Helper()
	v, ok := row[col].(float64)
	if !ok {
		t.Fatalf("column %s = %#v (%T), want a number", col, row[col], row[col])
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestReadmeExamples answers the README's example questions with `impact
// query`'s read-only path, as the read-only user impact_reader, over a
// database filled by simulate -> typed tables -> transform, and checks each
// answer against the simulation's truth.
func TestReadmeExamples(t *testing.T) {
	ctx := context.Background()
	l := pipelinetest.Load(t, simulate.Options{Seed: 21, Days: 365})
	truth := l.Truth
	conn, err := chconn.Open(ctx, testenv.Reader(l.Config))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	answer := func(t *testing.T, sql string) []map[string]any {
		t.Helper()
		var out bytes.Buffer
		if _, err := query.Run(ctx, conn, sql, &out, query.Options{Format: query.JSON, Limit: -1}); err != nil {
			t.Fatalf("query: %v\n%s", err, sql)
		}
		var rows []map[string]any
		if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
			t.Fatalf("answer is not JSON: %v\n%s", err, out.String())
		}
		return rows
	}

	checks := map[string]func(t *testing.T, sql string){
		"enterprise_win_rate_by_review_last_quarter": func(t *testing.T, sql string) {
			// The quarter's answer, summed over every quarter of the
			// window (same query, other dates), is the truth's
			// enterprise row per bucket.
			const q2 = "toDate('2026-04-01')"
			if !strings.Contains(sql, q2) {
				t.Fatalf("example no longer names %s", q2)
			}
			type wn struct{ n, won float64 }
			sum := map[string]wn{}
			quarters := 0
			for q := time.Date(truth.Start.Year()-1, 1, 1, 0, 0, 0, 0, time.UTC); q.Before(truth.End); q = q.AddDate(0, 3, 0) {
				rows := answer(t, strings.Replace(sql, q2, "toDate('"+q.Format(time.DateOnly)+"')", 1))
				for _, r := range rows {
					b := r["review_bucket"].(string)
					n, won := num(t, r, "closed_deals"), num(t, r, "won_deals")
					if math.Abs(num(t, r, "win_rate")-won/n) > 0.0005+1e-9 { // rounded to 3 decimals: off by up to half a thousandth
						t.Errorf("%s %s: win_rate %v, won/closed %v", q.Format(time.DateOnly), b, r["win_rate"], won/n)
					}
					sum[b] = wn{sum[b].n + n, sum[b].won + won}
				}
				if len(rows) > 0 {
					quarters++
				}
			}
			for _, b := range simulate.Buckets {
				want := truth.Deals.BySegmentBucket["enterprise"][b]
				if sum[b].n != float64(want.N) || sum[b].won != float64(want.Won) {
					t.Errorf("enterprise %s over all quarters: %v closed, %v won; truth %d, %d", b, sum[b].n, sum[b].won, want.N, want.Won)
				}
			}
			if quarters < 4 {
				t.Errorf("answers in %d quarters, want the 4+ of a year", quarters)
			}
			if rows := answer(t, sql); len(rows) == 0 {
				t.Errorf("no answer for Q2 2026, the last quarter of the simulated year")
			}
		},
		"revenue_lost_to_security_by_quarter": func(t *testing.T, sql string) {
			var n, usd float64
			rows := answer(t, sql)
			for _, r := range rows {
				n += num(t, r, "deals_lost")
				usd += num(t, r, "revenue_lost_usd")
			}
			if n != float64(truth.Deals.LostSecurity) || !near(usd, truth.Deals.RevenueLostSecurityUSD) {
				t.Errorf("quarters sum to %v deals, %v USD; truth %d, %v", n, usd, truth.Deals.LostSecurity, truth.Deals.RevenueLostSecurityUSD)
			}
			if len(rows) < 4 {
				t.Errorf("%d quarters, want at least 4", len(rows))
			}
		},
		"sla_compliance_by_team": func(t *testing.T, sql string) {
			rows := answer(t, sql)
			seen := 0
			for _, r := range rows {
				team := r["team"].(string)
				want, ok := truth.Findings.ByTeam[team]
				if !ok {
					t.Errorf("team %q not in the truth", team)
					continue
				}
				seen++
				if num(t, r, "met") != float64(want.Within) || num(t, r, "missed") != float64(want.Breached) ||
					math.Abs(num(t, r, "compliance")-want.Compliance) > 0.0005+1e-9 {
					t.Errorf("team %s: met %v missed %v compliance %v; truth %d %d %v", team, r["met"], r["missed"], r["compliance"], want.Within, want.Breached, want.Compliance)
				}
			}
			decided := 0
			for _, want := range truth.Findings.ByTeam {
				if want.Within+want.Breached > 0 {
					decided++
				}
			}
			if seen != decided || seen == 0 {
				t.Errorf("answer has %d teams, the truth %d with decided SLAs", seen, decided)
			}
		},
		"csat_after_incidents_vs_baseline": func(t *testing.T, sql string) {
			rows := answer(t, sql)
			if len(rows) != 2 {
				t.Fatalf("%d rows, want 2 (baseline, after incident)", len(rows))
			}
			for _, r := range rows {
				want := truth.Tickets.CSATAffectedBaseline
				if num(t, r, "after_incident_30d") == 1 {
					want = truth.Tickets.CSATAfterIncident
				}
				if num(t, r, "rated_tickets") != float64(want.N) || !near(num(t, r, "mean_csat_exact"), want.Mean) {
					t.Errorf("after_incident_30d=%v: %v tickets, mean %v; truth %d, %v", r["after_incident_30d"], r["rated_tickets"], r["mean_csat_exact"], want.N, want.Mean)
				}
			}
			if after, base := num(t, rows[1], "mean_csat"), num(t, rows[0], "mean_csat"); after >= base {
				t.Errorf("CSAT after incidents %v not below the baseline %v (planted drop %v)", after, base, truth.Params.CSATDrop)
			}
		},
	}

	examples := readmeExamples(t)
	if len(examples) != len(checks) {
		t.Errorf("%d examples in testdata/readme_examples.sql, %d checks", len(examples), len(checks))
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			check, ok := checks[ex.name]
			if !ok {
				t.Fatalf("no check for example %s", ex.name)
			}
			check(t, ex.sql)
		})
	}
}

// TestReadmeExamplesChDB runs the examples on a current ClickHouse (chdb)
// after the real table definitions; 18.16 runs them in TestReadmeExamples.
func TestReadmeExamplesChDB(t *testing.T) {
	stmts, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := transform.Plan(transform.Options{AsOf: simulate.DefaultEnd}, transform.Full)
	if err != nil {
		t.Fatal(err)
	}
	stmts = append(stmts, plan...)
	for _, ex := range readmeExamples(t) {
		stmts = append(stmts, strings.TrimSuffix(ex.sql, ";"))
	}
	r := sqlcheck.RunChDB(t, stmts)
	t.Logf("examples ran on ClickHouse %s (chdb)", r.Version)
}
