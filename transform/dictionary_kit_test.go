package transform

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// tableDocs introduce each table of the data dictionary, in the order the
// dictionary lists them: the analyst contract first, then the event tables
// it is built from, then bookkeeping.
var tableDocs = []struct{ name, doc string }{
	{"findings", "One row per security finding: its latest state (by event time), the owning team and department from the service catalog as of detection, and remediation SLA figures. Built by transform. A view over transform's tables findings_base_a/_b and findings_delta_a/_b (which findings a refresh recomputed since the base was written; docs/transform.md): read it, not them; ClickHouse 18.16 refuses PREWHERE on a view (use WHERE)."},
	{"deal_facts", "One row per closed opportunity (won, lost, no_decision) with its customer security review and review turnaround bucket. Built by transform."},
	{"deployment_facts", "One row per deployment: latest state, lead time, whether a blocking security gate failed for its service and commit, owner as of the deployment. Built by transform."},
	{"ticket_facts", "One row per support ticket: latest state, CSAT, and whether the account was hit by a security incident in the 30 days before. Built by transform. A view over transform's tables ticket_facts_base_a/_b and ticket_facts_delta_a/_b, as findings is."},
	{"finding_groups", "Findings counted by team, department, severity, status, SLA outcome and due-date cohort, and the months of detection, close, fix and security-debt age, as of the refresh, with each finding's days to fix (censored while open or once dismissed): the groups the scorecard's and impact_stats' figures of findings are computed from. Rebuilt in full by every refresh (ages and debt depend on the as-of time)."},
	{"department_scorecard", "One row per department and calendar month: security KPIs (open findings, SLA compliance by due month, security debt, gate block rate, policy exceptions), the incident cost charged to the department and its control spend (apart; incidents naming no department under (unassigned)). Built by transform."},
	{"dora_changes", "One row per change (a production deployment that succeeded, rollbacks aside) with its DORA figures and security lens: lead time, gate blocked, whether a rollback, hotfix or incident on the service marked it as failed within the failure window, time to restore, security-fix lead time. Built by transform."},
	{"impact_stats", "Computed statistics, one row per metric, dimension and group, each with n, 95% interval, method and evidence level. Metric definitions: docs/metrics.md. Built by transform."},
	{"transform_runs", "One row per table per refresh (and * for the whole run): duration, rows, mode. For the pipeline-health dashboard."},
	{"transform_state", "Refresh bookkeeping: the model versions the tables were built with and the ingest watermark."},
	{"transform_keys", "Scratch table of an incremental refresh: the entities being recomputed."},
	{"department_databases", "The departments whose rows transform copies into a database of their own at every refresh, for their read-only users (impact access, docs/access.md)."},
}

// DataDictionary renders the data dictionary (Markdown) of every table in
// conn's database from the column comments in system.columns, so the
// document is generated from the schema and cannot drift from it. The
// analyst contract tables come first, then every other table by name.
func DataDictionary(ctx context.Context, conn driver.Conn) (string, error) {
	rows, err := conn.Query(ctx, `SELECT table, name, type, comment FROM system.columns
WHERE database = currentDatabase() AND table NOT LIKE '%\_next' AND table NOT LIKE '%\_old'`)
	if err != nil {
		return "", fmt.Errorf("read system.columns: %w", err)
	}
	defer rows.Close()
	// No ORDER BY: system.columns lists each table's columns in table
	// order (18.16 has no position column to sort by, and sorting by
	// table alone reorders them); tables are ordered below.
	type col struct{ name, typ, comment string }
	cols := map[string][]col{}
	for rows.Next() {
		var table string
		var c col
		if err := rows.Scan(&table, &c.name, &c.typ, &c.comment); err != nil {
			return "", fmt.Errorf("read system.columns: %w", err)
		}
		cols[table] = append(cols[table], c)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read system.columns: %w", err)
	}
	// A layered model's table is a view, whose columns 18.16 cannot
	// comment: their comments are its layer tables', which are not listed.
	for t, cs := range cols {
		m, ok := layerOf(t)
		if !ok {
			continue
		}
		comment := map[string]string{}
		for _, c := range cs {
			comment[c.name] = c.comment
		}
		for i, c := range cols[m.name] {
			if c.comment == "" {
				cols[m.name][i].comment = comment[c.name]
			}
		}
		delete(cols, t)
	}
	var order []string
	docs := map[string]string{}
	seen := map[string]bool{}
	for _, td := range tableDocs {
		docs[td.name] = td.doc
		if _, ok := cols[td.name]; ok && !isBookkeeping(td.name) {
			order = append(order, td.name)
			seen[td.name] = true
		}
	}
	var others []string
	for t := range cols {
		if !seen[t] && !isBookkeeping(t) {
			others = append(others, t)
		}
	}
	sort.Strings(others)
	order = append(order, others...)
	for _, td := range tableDocs {
		if _, ok := cols[td.name]; ok && isBookkeeping(td.name) {
			order = append(order, td.name)
		}
	}

	var b strings.Builder
	b.WriteString("# Data dictionary\n\n")
	b.WriteString("<!-- GENERATED from the ClickHouse column comments (system.columns) by\n")
	b.WriteString("     go test ./transform -run TestDataDictionary -update. Do not edit by hand:\n")
	b.WriteString("     change the COMMENT in the table's DDL and regenerate. -->\n\n")
	b.WriteString("Database `impact`. The analyst contract tables (built by `impact transform`) come first;\n")
	b.WriteString("then the tables ingest writes, then bookkeeping. Timestamps are UTC `DateTime` (seconds);\n")
	b.WriteString("booleans are `UInt8` 0/1; `Nullable` columns are null when the source did not send the value.\n")
	b.WriteString("Metric definitions and caveats: [metrics.md](metrics.md).\n\n")
	for _, t := range order {
		fmt.Fprintf(&b, "- [`%s`](#%s)\n", t, t)
	}
	for _, t := range order {
		fmt.Fprintf(&b, "\n## %s\n\n", t)
		if d := docs[t]; d != "" {
			b.WriteString(d + "\n\n")
		}
		b.WriteString("| column | type | meaning |\n|---|---|---|\n")
		for _, c := range cols[t] {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", c.name, c.typ, strings.ReplaceAll(c.comment, "|", "\\|"))
		}
	}
	return b.String(), nil
}

func isBookkeeping(t string) bool {
	return strings.HasPrefix(t, "transform_") || strings.HasPrefix(t, "schema_migrations")
}
