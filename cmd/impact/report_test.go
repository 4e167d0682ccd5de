package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
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
