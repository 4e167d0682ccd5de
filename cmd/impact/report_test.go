package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
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
	if _, err := pipelinetest.Fill(ctx, conn, simulate.Options{Seed: 4, Days: 120}); err != nil {
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

// TestReportPeriodsAndMail runs impact report the ways a department head
// and the CISO get it: a quarter compared with the previous one and
// mailed (HTML inline, the PDF Chromium printed attached) to a local SMTP
// server; a department's version compared with the year before; every
// quarter into a directory; and the flag mistakes refused before
// connecting.
func TestReportPeriodsAndMail(t *testing.T) {
	ctx := context.Background()
	srv, conn, _ := pipelinetest.LoadOwn(t, "impact", simulate.Options{Seed: 4, Days: 200})
	reader := srv.ReaderConfig("impact")
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

	t.Run("quarter compared with the previous one, mailed", func(t *testing.T) {
		smtp := mailtest.Start(t, "impact", "smtp-pw-1", nil)
		mc := mail.Config{Addr: smtp.Addr, User: "impact", Password: "smtp-pw-1", TLS: mail.NoTLS,
			From: "impact <impact@example.com>", To: []string{"ciso@example.com"}}
		out := filepath.Join(t.TempDir(), "q2.html")
		var log bytes.Buffer
		if err := runReport(ctx, &log, reader, reportArgs{out: out, period: "2026-Q2", compare: "previous", mail: true,
			mailConfig: &mc, now: now}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "period 2026-04-01..2026-06-30") || !strings.Contains(log.String(), "mailed impact brief 2026-Q2") {
			t.Errorf("printed %q", log.String())
		}
		got := smtp.Messages()
		if len(got) != 1 || got[0].Auth != "impact" || got[0].To[0] != "ciso@example.com" {
			t.Fatalf("SMTP server got %+v", got)
		}
		subject, bodies, names := readMail(t, got[0].Data)
		if subject != "impact brief 2026-Q2" {
			t.Errorf("subject %q", subject)
		}
		pdf := bodies["application/pdf"]
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 10000 || names["application/pdf"] != "impact-brief-2026-Q2.pdf" {
			t.Errorf("attachment %q: %d bytes", names["application/pdf"], len(pdf))
		}
		page, _ := os.ReadFile(out)
		// Quoted-printable text travels with CRLF line ends.
		if !bytes.Equal(bytes.ReplaceAll(bodies["text/html"], []byte("\r\n"), []byte("\n")), page) || !bytes.Contains(page, []byte("Change since the previous quarter (2026-Q1)")) {
			t.Errorf("the inline HTML is not the compared brief")
		}
		if !strings.Contains(string(bodies["text/plain"]), "Change since the previous quarter (2026-Q1):") {
			t.Errorf("text part: %s", bodies["text/plain"])
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

// readMail returns a message's decoded subject and its leaf parts by
// content type (bodies decoded) with their file names.
func readMail(t *testing.T, raw []byte) (string, map[string][]byte, map[string]string) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	bodies, names := map[string][]byte{}, map[string]string{}
	var walk func(r io.Reader, ct string)
	walk = func(r io.Reader, ct string) {
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pct := p.Header.Get("Content-Type")
			mt, _, _ := mime.ParseMediaType(pct)
			if strings.HasPrefix(mt, "multipart/") {
				walk(p, pct)
				continue
			}
			var body io.Reader = p
			if p.Header.Get("Content-Transfer-Encoding") == "base64" {
				body = base64.NewDecoder(base64.StdEncoding, p)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			bodies[mt], names[mt] = b, p.FileName()
		}
	}
	walk(m.Body, m.Header.Get("Content-Type"))
	return subject, bodies, names
}
