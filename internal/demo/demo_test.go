package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/query"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
)

// buildImpact builds the impact binary into a temporary directory: the
// test exercises the CLI contract (`impact demo --json`), not just Run.
func buildImpact(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "impact")
	cmd := exec.Command("go", "build", "-o", exe, "github.com/secimpact/impact/cmd/impact")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build impact: %v\n%s", err, out)
	}
	return exe
}

// demoEnv is the environment of the child: no ClickHouse address, so the
// demo starts its own server as on a fresh machine; the real Kafka broker
// only when the suite runs against it (IMPACT_TEST_KAFKA=real).
func demoEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IMPACT_CLICKHOUSE_") {
			continue
		}
		if strings.HasPrefix(kv, "IMPACT_KAFKA_BROKERS=") && os.Getenv("IMPACT_TEST_KAFKA") != "real" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// TestDemoCommand runs `impact demo --json` at a reduced size and checks
// its summary against the simulation's truth, computed here independently
// from the same seed and days.
func TestDemoCommand(t *testing.T) {
	const days, seed = 120, 3
	exe := buildImpact(t)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(exe, "demo", "--json", "--days", "120", "--seed", "3", "--out", out)
	cmd.Env = demoEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("impact demo: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("impact demo --days %d took %s", days, time.Since(start).Round(time.Millisecond))
	var s Summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.String())
	}
	truth, err := simulate.Run(context.Background(), simulate.Options{Seed: seed, Days: days}, func(simulate.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}

	t.Run("stages", func(t *testing.T) {
		want := []string{"servers", "migrate", "produce", "ingest", "transform", "dashboards", "brief"}
		var got []string
		counts := map[string]map[string]int64{}
		for _, st := range s.Stages {
			got = append(got, st.Name)
			counts[st.Name] = st.Counts
			if st.Seconds < 0 {
				t.Errorf("stage %s: %v seconds", st.Name, st.Seconds)
			}
			t.Logf("stage %-10s %7.2fs %v", st.Name, st.Seconds, st.Counts)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("stages %v, want %v", got, want)
		}
		for _, c := range []struct {
			stage, key string
			want       int
		}{
			{"produce", "events_produced", truth.Delivery.Lines},
			{"produce", "valid_events", truth.Delivery.ValidEvents},
			{"produce", "invalid_lines", truth.Delivery.Invalid},
			{"ingest", "events_stored", truth.Delivery.ValidEvents},
			{"ingest", "rejected", truth.Delivery.Invalid},
			{"transform", "deal_facts", truth.Deals.Closed},
		} {
			if got := counts[c.stage][c.key]; got != int64(c.want) {
				t.Errorf("stage %s %s = %d, want %d", c.stage, c.key, got, c.want)
			}
		}
		if got := counts["ingest"]["events_consumed"]; got < int64(truth.Delivery.Lines) {
			t.Errorf("ingest consumed %d messages, fewer than the %d published", got, truth.Delivery.Lines)
		}
	})

	t.Run("checks against the truth", func(t *testing.T) {
		// Independent of the demo's own comparison: the truth figures in
		// the summary must be this test's truth, and each must match.
		want := map[string]float64{
			"lines_published":           float64(truth.Delivery.Lines),
			"valid_events_stored":       float64(truth.Delivery.ValidEvents),
			"invalid_lines_rejected":    float64(truth.Delivery.Invalid),
			"closed_deals":              float64(truth.Deals.Closed),
			"deals_lost_security":       float64(truth.Deals.LostSecurity),
			"revenue_lost_security_usd": truth.Deals.RevenueLostSecurityUSD,
			"fast_minus_slow_pooled":    truth.Deals.FastMinusSlowPooled,
		}
		if v, ok := stratifiedTruth(truth); ok {
			want["fast_minus_slow_stratified"] = v
		}
		want["tickets"] = float64(truth.Tickets.Tickets)
		want["deployments"] = float64(truth.Deployments.Deployments)
		want["deployments_gate_blocked"] = float64(truth.Deployments.GateBlocked)
		want["findings"] = float64(truth.Findings.Findings)
		for dep, d := range truth.Departments {
			if d.CostOfRiskUSD > 0 {
				want["cost_of_risk_usd_"+dep] = d.CostOfRiskUSD
			}
		}
		for _, b := range simulate.Buckets {
			want["closed_deals_"+b] = float64(truth.Deals.ByBucket[b].N)
			want["won_deals_"+b] = float64(truth.Deals.ByBucket[b].Won)
		}
		seen := map[string]bool{}
		for _, c := range s.Checks {
			seen[c.Name] = true
			w, ok := want[c.Name]
			if !ok {
				continue
			}
			if !near(c.Truth, w) {
				t.Errorf("%s: summary's truth %v, independent truth %v", c.Name, c.Truth, w)
			}
			if !near(c.Observed, w) || !c.Match {
				t.Errorf("%s: observed %v, truth %v (match=%v)", c.Name, c.Observed, w, c.Match)
			}
		}
		for name := range want {
			if !seen[name] {
				t.Errorf("summary lacks check %s", name)
			}
		}
		for _, h := range s.WinRateByBucket {
			r := truth.Deals.ByLandmarkBucket[h.Value]
			if h.N != uint64(r.N) || h.Estimate == nil || !near(*h.Estimate, r.WinRate) {
				t.Errorf("win rate %s: n=%d %v, want n=%d %v", h.Value, h.N, val(h.Estimate), r.N, r.WinRate)
			}
		}
		if len(s.WinRateByBucket) != len(simulate.Buckets) {
			t.Errorf("%d win-rate buckets, want %d", len(s.WinRateByBucket), len(simulate.Buckets))
		}
	})

	t.Run("headlines", func(t *testing.T) {
		want := headlineOrder
		if len(s.Headlines) != len(want) {
			t.Fatalf("%d headlines, want %d", len(s.Headlines), len(want))
		}
		for i, h := range s.Headlines {
			if got := h.Metric + "/" + h.Dimension; got != want[i] {
				t.Errorf("headline %d is %s, want %s", i, got, want[i])
			}
			if h.Evidence == "insufficient" {
				continue // a 120-day organisation may lack the minimum n somewhere
			}
			if h.N == 0 || h.Estimate == nil || h.Evidence == "" || h.Method == "" || h.Title == "" || h.Period != "all" {
				t.Errorf("headline %s incomplete: %+v", h.Metric, h)
			}
			if h.Low != nil && h.High != nil && !(*h.Low <= *h.Estimate && *h.Estimate <= *h.High) {
				t.Errorf("headline %s: interval %v..%v does not hold %v", h.Metric, *h.Low, *h.High, *h.Estimate)
			}
			if h.Metric != "revenue_lost_security_usd" && (h.Low == nil || h.High == nil) {
				t.Errorf("headline %s has no interval", h.Metric)
			}
			if h.Evidence != "insufficient" && h.Metric != "revenue_lost_security_usd" && !strings.Contains(h.Wording, "associated with") {
				t.Errorf("headline %s wording %q lacks \"associated with\"", h.Metric, h.Wording)
			}
		}
		if s.Headlines[0].Evidence != "adjusted" && s.Headlines[0].Evidence != "insufficient" {
			t.Errorf("stratified win-rate difference evidence %q, want adjusted", s.Headlines[0].Evidence)
		}
		if s.Headlines[0].Cluster != "account" || !strings.Contains(s.Headlines[1].Wording, "confounded by segment") {
			t.Errorf("the adjusted figure leads, clustered by account, the pooled one beside it labelled confounded: %+v", s.Headlines[:2])
		}
	})

	t.Run("files", func(t *testing.T) {
		b, err := os.ReadFile(s.Paths.Truth)
		if err != nil {
			t.Fatal(err)
		}
		var got, exp any
		wantJSON, _ := json.Marshal(truth)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(wantJSON, &exp)
		if g, w := mustJSON(got), mustJSON(exp); g != w {
			t.Errorf("truth.json differs from the independently computed truth")
		}
		html, err := os.ReadFile(s.Paths.Brief)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(html, []byte(`class="chart"`)); n != 5 {
			t.Errorf("brief has %d charts, want 5", n)
		}
		for _, w := range []string{"1 Apr 2026", "30 Jun 2026", "Department scorecard", "associated with"} {
			if !bytes.Contains(html, []byte(w)) {
				t.Errorf("brief lacks %q", w)
			}
		}
		if s.Period.From != time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) || s.Period.To != time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC) {
			t.Errorf("brief period %v..%v, want Q2 2026 (the last full quarter before %v)", s.Period.From, s.Period.To, truth.End)
		}
		if len(s.Paths.Files) == 0 {
			t.Fatal("no dashboard files")
		}
		for _, f := range s.Paths.Files {
			if _, err := os.Stat(filepath.Join(s.Paths.Grafana, f)); err != nil {
				t.Errorf("dashboard file: %v", err)
			}
		}
		if !s.ClickHouse.Local || s.ClickHouse.ReaderUser != chlocal.ReaderUser {
			t.Errorf("clickhouse info %+v: want a local server with the reader user", s.ClickHouse)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	m := b
	if m < 0 {
		m = -m
	}
	if m < 1 {
		m = 1
	}
	return d <= 1e-9*m
}

// TestMissingClickHouse: without a ClickHouse server binary the command
// prints one sentence naming the fix, never a stack trace.
func TestMissingClickHouse(t *testing.T) {
	exe := buildImpact(t)
	cmd := exec.Command(exe, "demo", "--days", "5", "--out", t.TempDir(), "--clickhouse-server", "/nonexistent/clickhouse-server")
	cmd.Env = demoEnv()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if last != "impact: "+chlocal.ErrNotInstalled.Error() {
		t.Errorf("last line %q, want the one-sentence fix %q", last, chlocal.ErrNotInstalled.Error())
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("output contains %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(last, "apt-get install -y clickhouse-server") || !strings.Contains(last, "make deps") {
		t.Errorf("message does not name the fix: %q", last)
	}
}

// TestProgress: a terminal gets one line redrawn in place; a log gets one
// line per stage start and end with the counts.
func TestProgress(t *testing.T) {
	for _, c := range []struct {
		live bool
		want []string
		not  []string
	}{
		{true, []string{"\r[1/2] produce", "42 events produced", "✓\n", "\033[K"}, []string{"demo stage"}},
		{false, []string{"demo stage", "stage=produce", "events_produced=42"}, []string{"\r", "✓"}},
	} {
		var term, log bytes.Buffer
		p := newProgress(c.live, &term, slogTo(&log), 2)
		p.begin("produce", func() string { return "7 events produced" })
		time.Sleep(250 * time.Millisecond)
		p.end(map[string]int64{"events_produced": 42})
		got := term.String() + log.String()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("live=%v: output lacks %q:\n%q", c.live, w, got)
			}
		}
		for _, w := range c.not {
			if strings.Contains(got, w) {
				t.Errorf("live=%v: output has %q:\n%q", c.live, w, got)
			}
		}
	}
}

// TestStatementsChDB runs the demo's own queries on a current ClickHouse
// (chdb) after the real table definitions (migrations, then a full
// transform plan); ClickHouse 18.16 runs them in TestDemoCommand.
func TestStatementsChDB(t *testing.T) {
	mine, err := Statements()
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := transform.Plan(transform.Options{AsOf: simulate.DefaultEnd}, transform.Full)
	if err != nil {
		t.Fatal(err)
	}
	stmts = append(append(append(stmts, plan...), transform.StatsStatements()...), mine...)
	r := sqlcheck.RunChDB(t, stmts)
	t.Logf("%d demo statements ran on ClickHouse %s (chdb) after %d setup statements", len(mine), r.Version, len(stmts)-len(mine))
}

func slogTo(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestKeep: with Keep the servers stay up after the summary until the
// context ends (Ctrl-C), and the connection the command prints (the
// read-only user) answers queries on the demo's tables meanwhile.
func TestKeep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var answered uint64
	var readyErr error
	var cancelled time.Time
	done := make(chan struct{})
	_, err := Run(ctx, Options{Days: 30, Seed: 9, Out: t.TempDir(), Keep: true, Ready: func(s Summary) {
		// Query after Ready has returned, while Run waits, then "press Ctrl-C".
		go func() {
			defer close(done)
			defer func() { cancelled = time.Now(); cancel() }()
			time.Sleep(500 * time.Millisecond)
			c := config.ClickHouse{Addr: s.ClickHouse.Addr, User: s.ClickHouse.ReaderUser, Database: s.ClickHouse.Database}
			conn, err := chconn.Open(ctx, c)
			if err != nil {
				readyErr = err
				return
			}
			defer conn.Close()
			var out bytes.Buffer
			if _, err := query.Run(ctx, conn, "SELECT count() AS n FROM deal_facts", &out, query.Options{Format: query.CSV}); err != nil {
				readyErr = err
				return
			}
			fmt.Sscanf(strings.TrimPrefix(out.String(), "n\n"), "%d", &answered)
			for _, c := range s.Checks {
				if c.Name == "closed_deals" && uint64(c.Truth) != answered {
					readyErr = fmt.Errorf("reader sees %d closed deals, truth %v", answered, c.Truth)
				}
			}
		}()
	}})
	returned := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if readyErr != nil {
		t.Fatal(readyErr)
	}
	if answered == 0 {
		t.Fatal("the kept server answered no deals")
	}
	if returned.Before(cancelled) {
		t.Errorf("Run returned before the context ended")
	}
}
