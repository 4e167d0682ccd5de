package transform_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform"
)

var planAsOf = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

// TestPlanGolden keeps the rendered refresh SQL (full and incremental) in
// testdata, so every change to the generated statements shows in review.
func TestPlanGolden(t *testing.T) {
	for _, mode := range []string{transform.Full, transform.Incremental} {
		t.Run(mode, func(t *testing.T) {
			stmts, err := transform.Plan(transform.Options{AsOf: planAsOf}, mode)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(stmts, ";\n\n") + ";\n"
			path := filepath.Join("testdata", "plan_"+mode+".sql")
			golden.Check(t, path, []byte(got))
		})
	}
}

// TestPlanOnCurrentClickHouse runs the migrations and then a full and an
// incremental refresh plan in chdb (a current ClickHouse), on empty source
// tables: every model statement must parse and run there as it does on
// 18.16 (the pipeline tests).
func TestPlanOnCurrentClickHouse(t *testing.T) {
	stmts, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{transform.Full, transform.Incremental} {
		p, err := transform.Plan(transform.Options{AsOf: planAsOf}, mode)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, p...)
		if mode == transform.Full {
			// One row per fact table, so the incremental plan copies
			// something and REPLACE PARTITION has a non-empty source
			// (current ClickHouse refuses an empty one; Refresh truncates
			// instead). findings and ticket_facts are views: their rows go
			// to their bases, and their deltas a, which the incremental
			// plan stands for having, are made.
			stmts = append(stmts,
				"INSERT INTO findings_base_a (finding_id, detected_at) VALUES ('F-1', toDateTime('2026-01-01 00:00:00'))",
				"CREATE TABLE findings_delta_a AS findings_base_a",
				"INSERT INTO findings_delta_a (finding_id, detected_at) VALUES ('F-2', toDateTime('2026-01-02 00:00:00'))",
				"INSERT INTO deal_facts (opportunity_id) VALUES ('O-1')",
				"INSERT INTO deployment_facts (deployment_id) VALUES ('D-1')",
				"INSERT INTO ticket_facts_base_a (ticket_id) VALUES ('T-1')",
				"CREATE TABLE ticket_facts_delta_a AS ticket_facts_base_a",
				"INSERT INTO ticket_facts_delta_a (ticket_id) VALUES ('T-2')")
		}
	}
	stmts = append(stmts, transform.StatsStatements()...)
	res := sqlcheck.RunChDB(t, stmts)
	t.Logf("%d statements ran on ClickHouse %s (chdb)", len(stmts), res.Version)
}
