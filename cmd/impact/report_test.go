package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/department"
	"github.com/secimpact/impact/internal/mail"
	"github.com/secimpact/impact/internal/mail/mailtest"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestReportCommand writes briefs from a simulated organisation's analyst
// tables for the default and explicit periods, and refuses bad flags
// before connecting.
func TestReportCommand(t *testing.T) {
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	cc := srv.Config("impact")
	if err := chconn.EnsureDatabase(ctx, cc); err != nil {
		t.Fatal(err)
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := migrations.Apply(ctx, conn, migrations.Options{Database: "impact", SkipLock: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := pipelinetest.Fill(ctx, cc, conn, simulate.Options{Seed: 4, Days: 120}); err != nil {
		t.Fatal(err)
	}
	// Before transform ran: one sentence naming the fix.
	empty := srv.Config("empty")
	if err := chconn.EnsureDatabase(ctx, empty); err != nil {
		t.Fatal(err)
	}
	err = runReport(ctx, &bytes.Buffer{}, empty, reportArgs{out: filepath.Join(t.TempDir(), "b.html"), now: time.Now()})
	if !errors.Is(err, brief.ErrNoAnalystTables) {
		t.Errorf("report on an empty database: %v, want ErrNoAnalystTables", err)
	}

	// The command reads as the read-only user, as analysts would.
	reader := srv.ReaderConfig("impact")
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

	for _, c := range []struct {
		name, from, to string
		wantPeriod     string // printed period; "" when the command must fail
		wantErr        string
		wantInPage     []string
		changes        []string
	}{
		{"process change", "", "", "2026-04-01..2026-06-30", "", []string{"Process changes: before and after", "questionnaire-automation", "placebo", "parallel trends"},
			[]string{"questionnaire-automation=2026-05-01"}},
		{"bad change", "", "", "", "--change: change \"automation\": want NAME=YYYY-MM-DD", nil, []string{"automation"}},
		{"default: last full quarter with data", "", "", "2026-04-01..2026-06-30", "", []string{"1 Apr 2026 – 30 Jun 2026", "Win rate by security-review turnaround"}, nil},
		{"explicit period, --to included", "2026-05-01", "2026-05-31", "2026-05-01..2026-05-31", "", []string{"1 May 2026 – 31 May 2026"}, nil},
		{"only --from", "2026-05-01", "", "", "give both --from and --to", nil, nil},
		{"bad date", "2026-13-01", "2026-12-31", "", "--from: want YYYY-MM-DD", nil, nil},
		{"reversed", "2026-06-01", "2026-05-01", "", "is after --to", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "brief.html")
			var log bytes.Buffer
			err := runReport(ctx, &log, reader, reportArgs{out: out, from: c.from, to: c.to, org: "Test Org", now: now, changes: c.changes})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if _, statErr := os.Stat(out); statErr == nil {
					t.Errorf("a brief was written despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "period "+c.wantPeriod) {
				t.Errorf("printed %q, want period %s", log.String(), c.wantPeriod)
			}
			page, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(c.wantInPage, "Test Org", `class="chart"`, "Department scorecard") {
				if !bytes.Contains(page, []byte(w)) {
					t.Errorf("brief lacks %q", w)
				}
			}
		})
	}
}

// TestReportPeriodsAndMail runs impact report the ways the CISO and a
// department head get it: a quarter compared with the previous one and
// mailed (HTML inline, the PDF Chromium printed attached) to a local SMTP
// server, the company brief and a department's, each opened in headless
// Chromium without console errors and its period-over-period figures
// checked against figures the test computes from the rows itself; a
// department's version compared with the year before; every quarter
// into a directory; and the flag mistakes refused before connecting.
func TestReportPeriodsAndMail(t *testing.T) {
	ctx := context.Background()
	srv, conn, _ := pipelinetest.LoadOwn(t, "impact", simulate.Options{Seed: 4, Days: 200})
	reader := srv.ReaderConfig("impact")
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	q2, _ := brief.ParsePeriod("2026-Q2")
	q1 := q2.Previous()

	// mailed runs impact report --period 2026-Q2 --compare previous --mail
	// (with --department when dept is set) and returns the brief written
	// and the message the SMTP server received, after checking that the
	// page opens in Chromium without console errors, that the message is
	// the brief inline with its PDF attached, and that every change is its
	// two figures' difference with the MOVER interval.
	mailed := func(t *testing.T, dept string) ([]byte, map[string]comparisonRow) {
		t.Helper()
		smtp := mailtest.Start(t, "impact", "smtp-pw-1", nil)
		mc := mail.Config{Addr: smtp.Addr, User: "impact", Password: "smtp-pw-1", TLS: mail.NoTLS,
			From: "impact <impact@example.com>", To: []string{"ciso@example.com"}}
		out := filepath.Join(t.TempDir(), "q2.html")
		var log bytes.Buffer
		if err := runReport(ctx, &log, reader, reportArgs{out: out, period: "2026-Q2", compare: "previous", department: dept, mail: true,
			mailConfig: &mc, now: now}); err != nil {
			t.Fatal(err)
		}
		subject, file := "impact brief 2026-Q2", "impact-brief-2026-Q2.pdf"
		if dept != "" {
			subject, file = subject+": "+dept, "impact-brief-"+department.Slug(dept)+"-2026-Q2.pdf"
		}
		if !strings.Contains(log.String(), "period 2026-04-01..2026-06-30") || !strings.Contains(log.String(), "mailed "+subject) {
			t.Errorf("printed %q", log.String())
		}
		page, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		// The command refuses to mail a brief with console errors; the
		// test opens it again to say so itself.
		printed, err := brief.PrintPDF(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(printed.Console) > 0 {
			t.Errorf("console errors in Chromium: %v", printed.Console)
		}
		got := smtp.Messages()
		if len(got) != 1 || got[0].Auth != "impact" || got[0].To[0] != "ciso@example.com" {
			t.Fatalf("SMTP server got %+v", got)
		}
		msg := got[0].Parse(t)
		if msg.Subject != subject {
			t.Errorf("subject %q, want %q", msg.Subject, subject)
		}
		pdf := msg.Bodies["application/pdf"]
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 10000 || msg.Names["application/pdf"] != file {
			t.Errorf("attachment %q: %d bytes, want %s", msg.Names["application/pdf"], len(pdf), file)
		}
		// Quoted-printable text travels with CRLF line ends.
		if !bytes.Equal(bytes.ReplaceAll(msg.Bodies["text/html"], []byte("\r\n"), []byte("\n")), page) || !bytes.Contains(page, []byte("Change since the previous quarter (2026-Q1)")) {
			t.Errorf("the inline HTML is not the compared brief")
		}
		if !strings.Contains(string(msg.Bodies["text/plain"]), "Change since the previous quarter (2026-Q1):") {
			t.Errorf("text part: %s", msg.Bodies["text/plain"])
		}
		rows := comparisonRows(t, page)
		if len(rows) == 0 {
			t.Fatal("no comparison rows")
		}
		for title, r := range rows {
			switch {
			case r.currentSuppressed || r.previousSuppressed:
				if !math.IsNaN(r.change) {
					t.Errorf("%s: a change of a greyed-out figure", title)
				}
			case math.IsNaN(r.current[1]):
				if !approx(r.change, r.current[0]-r.previous[0]) || !math.IsNaN(r.changeLow) || r.distinguishable {
					t.Errorf("%s (no interval): change %v [%v, %v]", title, r.change, r.changeLow, r.changeHigh)
				}
			default:
				d, lo, hi := mover95(r.current, r.previous)
				if !approx(r.change, d) || !approx(r.changeLow, lo) || !approx(r.changeHigh, hi) || r.distinguishable != (lo > 0 || hi < 0) {
					t.Errorf("%s: change %v [%v, %v] distinguishable %v, want %v [%v, %v]", title, r.change, r.changeLow, r.changeHigh, r.distinguishable, d, lo, hi)
				}
			}
		}
		return page, rows
	}

	t.Run("quarter compared with the previous one, mailed", func(t *testing.T) {
		_, rows := mailed(t, "")
		// Revenue lost to security is a total: both periods' sums straight
		// from deal_facts.
		var lost [2]float64
		for i, p := range []brief.Period{q2, q1} {
			if err := conn.QueryRow(ctx, "SELECT sum(amount_usd) FROM deal_facts WHERE outcome = 'lost' AND loss_reason = 'security' AND closed_at >= @f AND closed_at < @t",
				clickhouse.Named("f", p.From), clickhouse.Named("t", p.To)).Scan(&lost[i]); err != nil {
				t.Fatal(err)
			}
		}
		r, ok := rows["Revenue recorded as lost to security"]
		if !ok || !approx(r.current[0], lost[0]) || !approx(r.previous[0], lost[1]) || !approx(r.change, lost[0]-lost[1]) {
			t.Errorf("revenue lost %+v (present %v), direct %v and %v", r, ok, lost[0], lost[1])
		}
	})

	t.Run("department compared with the previous quarter, mailed", func(t *testing.T) {
		const dept = "Engineering"
		page, rows := mailed(t, dept)
		if !bytes.Contains(page, []byte("Security scorecard: "+dept)) {
			t.Errorf("not the department's version")
		}
		// The department's shares, straight from the rows: SLA compliance
		// and gate block rate from department_scorecard, change failure
		// rate from dora_changes; intervals with the test's own formulas.
		cur, prev := directShares(t, conn, dept, q2), directShares(t, conn, dept, q1)
		for title, x := range cur {
			r, ok := rows[title]
			if !ok {
				t.Errorf("no comparison row %q", title)
				continue
			}
			y := prev[title]
			if x[1] < 30 || y[1] < 30 {
				t.Errorf("%s: n %v and %v, too few for the check to mean much", title, x[1], y[1])
			}
			a, b := wilson95(x[0], x[1]), wilson95(y[0], y[1])
			if !approx3(r.current, a) || r.currentN != int64(x[1]) || !approx3(r.previous, b) || r.previousN != int64(y[1]) {
				t.Errorf("%s: brief Q2 %v n=%d, Q1 %v n=%d; direct %v n=%v, %v n=%v", title, r.current, r.currentN, r.previous, r.previousN, a, x[1], b, y[1])
			}
			d, lo, hi := mover95(a, b)
			if !approx(r.change, d) || !approx(r.changeLow, lo) || !approx(r.changeHigh, hi) || r.distinguishable != (lo > 0 || hi < 0) {
				t.Errorf("%s change: brief %v [%v, %v], direct %v [%v, %v]", title, r.change, r.changeLow, r.changeHigh, d, lo, hi)
			}
		}
		if len(cur) != 3 {
			t.Errorf("%d shares checked, want 3", len(cur))
		}
	})

	t.Run("department compared with the year before", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "eng.html")
		if err := runReport(ctx, &bytes.Buffer{}, reader, reportArgs{out: out, period: "2026-Q2", compare: "year", department: "Engineering", now: now}); err != nil {
			t.Fatal(err)
		}
		page, _ := os.ReadFile(out)
		for _, w := range []string{"Security scorecard: Engineering", "Change since the same period a year before (2025-Q2)", "Change failure rate", "n too small in one of the periods", "Month by month"} {
			if !bytes.Contains(page, []byte(w)) {
				t.Errorf("department brief lacks %q", w)
			}
		}
		if bytes.Contains(page, []byte("Win rate by security-review turnaround")) {
			t.Errorf("the department version shows company-wide figures")
		}
	})

	t.Run("every quarter", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "briefs")
		if err := runReport(ctx, &bytes.Buffer{}, reader, reportArgs{out: dir, every: "quarter", compare: "previous", now: now}); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		// From the quarter of the first deal, ticket or deployment (the
		// simulated backlog's security fixes reach back two years) to the
		// last full quarter of the data.
		first, ok, err := brief.FirstData(ctx, conn)
		if err != nil || !ok {
			t.Fatal(err)
		}
		q := (int(first.Month())-1)/3 + 1
		want := []string{fmt.Sprintf("brief-%d-Q%d.html", first.Year(), q)}
		for p, _ := brief.ParsePeriod(fmt.Sprintf("%d-Q%d", first.Year(), q)); p.Name() != "2026-Q2"; {
			p = brief.Period{From: p.To, To: p.To.AddDate(0, 3, 0)}
			want = append(want, "brief-"+p.Name()+".html")
		}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("wrote %v, want %v", names, want)
		}
	})

	for _, c := range []struct {
		name string
		a    reportArgs
		want string
	}{
		{"period and dates", reportArgs{period: "2026-Q2", from: "2026-04-01", to: "2026-06-30"}, "not both"},
		{"bad period", reportArgs{period: "2026-Q5"}, "--period"},
		{"bad compare", reportArgs{compare: "last"}, "--compare"},
		{"every with mail", reportArgs{every: "quarter", mail: true}, "--every"},
		{"every with a period", reportArgs{every: "quarter", period: "2026-Q2"}, "--every"},
		{"mail without settings", reportArgs{mail: true, mailConfig: &mail.Config{}}, "IMPACT_SMTP_ADDR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.a.out, c.a.now = filepath.Join(t.TempDir(), "b.html"), now
			if err := runReport(ctx, &bytes.Buffer{}, config.ClickHouse{Addr: "127.0.0.1:1"}, c.a); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}

// comparisonRow is one row of a brief's comparison table as the page
// carries it (data- attributes): each figure as estimate, low, high.
type comparisonRow struct {
	current, previous                     [3]float64
	currentN, previousN                   int64
	currentSuppressed, previousSuppressed bool
	change, changeLow, changeHigh         float64
	distinguishable                       bool
}

var (
	rowRe  = regexp.MustCompile(`<tr data-metric="([^"]*)"([^>]*)>`)
	attrRe = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)
)

// comparisonRows reads the comparison table of a rendered brief by title.
func comparisonRows(t *testing.T, page []byte) map[string]comparisonRow {
	t.Helper()
	out := map[string]comparisonRow{}
	for _, m := range rowRe.FindAllSubmatch(page, -1) {
		a := map[string]string{}
		for _, kv := range attrRe.FindAllSubmatch(m[2], -1) {
			a[string(kv[1])] = html.UnescapeString(string(kv[2]))
		}
		f := func(k string) float64 {
			v, err := strconv.ParseFloat(a[k], 64)
			if err != nil {
				t.Fatalf("row %s: data-%s: %v", m[1], k, err)
			}
			return v
		}
		r := comparisonRow{
			current:            [3]float64{f("current"), f("current-low"), f("current-high")},
			previous:           [3]float64{f("previous"), f("previous-low"), f("previous-high")},
			currentN:           int64(f("current-n")),
			previousN:          int64(f("previous-n")),
			currentSuppressed:  a["current-suppressed"] == "true",
			previousSuppressed: a["previous-suppressed"] == "true",
			change:             f("change"), changeLow: f("change-low"), changeHigh: f("change-high"),
			distinguishable: a["distinguishable"] == "true",
		}
		out[html.UnescapeString(string(m[1]))] = r
	}
	return out
}

// wilson95 and mover95 are the test's own formulas (Wilson 1927; Zou and
// Donner 2008), independent of transform/stats; shares in percent.
func wilson95(x, n float64) [3]float64 {
	z := 1.959963984540054
	p := x / n
	c := (p + z*z/(2*n)) / (1 + z*z/n)
	h := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / (1 + z*z/n)
	return [3]float64{100 * p, 100 * (c - h), 100 * (c + h)}
}

func mover95(a, b [3]float64) (d, lo, hi float64) {
	d = a[0] - b[0]
	return d, d - math.Hypot(a[0]-a[1], b[2]-b[0]), d + math.Hypot(a[2]-a[0], b[0]-b[1])
}

func approx(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) || math.IsNaN(a) && math.IsNaN(b)
}

func approx3(a, b [3]float64) bool {
	return approx(a[0], b[0]) && approx(a[1], b[1]) && approx(a[2], b[2])
}

// directShares computes a department's shares for p straight from the
// analyst tables as (successes, n): SLA compliance and gate block rate
// from department_scorecard, change failure rate from dora_changes.
func directShares(t *testing.T, conn driver.Conn, dept string, p brief.Period) map[string][2]float64 {
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
		"Remediation SLA compliance": {float64(within), float64(within + breached)},
		"Security gate block rate":   {float64(blocked), float64(deps)},
		"Change failure rate":        {float64(failed), float64(changes)},
	}
}
