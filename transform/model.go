package transform

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/secimpact/impact/internal/sqlparam"
)

//go:embed sql/*.sql
var sqlFS embed.FS

// model is one analyst contract table built by SQL. Its files in sql/ are
// <name>.ddl.sql (the CREATE TABLE, with a COMMENT on every column, the
// source of docs/data-dictionary.md), <name>.sql (INSERT ... SELECT that
// builds rows, with an incremental variant filtered on transform_keys) and,
// for models refreshed incrementally, <name>.touch.sql (which entity keys
// changed since the watermark).
type model struct {
	name string // table name, also the model name in transform_keys/state
	key  string // entity key column; empty: always rebuilt in full
}

// sqlModels are built in this order: department_scorecard reads the fact
// tables. impact_stats is computed in Go (stats.go) and comes last.
var sqlModels = []model{
	{name: "findings", key: "finding_id"},
	{name: "deal_facts", key: "opportunity_id"},
	{name: "deployment_facts", key: "deployment_id"},
	{name: "ticket_facts", key: "ticket_id"},
	{name: "department_scorecard"},
	{name: "dora_changes"},
}

// Tables lists the analyst contract tables transform maintains, in build
// order.
func Tables() []string {
	out := make([]string, 0, len(sqlModels)+1)
	for _, m := range sqlModels {
		out = append(out, m.name)
	}
	return append(out, StatsTable)
}

// tmplData is what the SQL templates may use: table names chosen by this
// package, the model's own partition expression, partition values read
// back from the server and checked to be integers, and booleans; never
// user input.
type tmplData struct {
	Table       string // target table (e.g. findings_next)
	Source      string // copy source (the live table)
	Model       string
	Key         string
	Columns     string
	Database    string   // a department's database (slices)
	Partition   string   // the model's PARTITION BY expression
	Partitions  string   // comma-separated partition values (integers)
	Attach      []string // partition ids to attach from Source (checked: digits)
	Incremental bool
}

var partitionRE = regexp.MustCompile(`(?m)^PARTITION BY (.+)$`)

// partition returns the model's PARTITION BY expression from its DDL
// (empty: unpartitioned, always rebuilt in full).
func (m model) partition() string {
	ddl, _ := m.file(".ddl.sql")
	if mm := partitionRE.FindStringSubmatch(ddl); mm != nil {
		return strings.TrimSpace(mm[1])
	}
	return ""
}

func (m model) file(suffix string) (string, bool) {
	b, err := sqlFS.ReadFile("sql/" + m.name + suffix)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// statements renders an embedded SQL file and splits it into statements
// (separated by ';' at the end of a line).
func statements(name, text string, d tmplData) ([]string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return splitSQL(buf.String()), nil
}

func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if q := strings.TrimSpace(cur.String()); q != "" && !onlyComments(q) {
			out = append(out, q)
		}
		cur.Reset()
	}
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimRight(line, " \t\r")
		if strings.HasSuffix(trimmed, ";") && !strings.HasPrefix(strings.TrimSpace(trimmed), "--") {
			cur.WriteString(strings.TrimSuffix(trimmed, ";"))
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}

func onlyComments(q string) bool {
	for _, l := range strings.Split(q, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// params are the values the model SQL refers to as @name: Unix times and
// durations in seconds, all computed by this package. They are inlined as
// literals (internal/sqlparam), so the statements sent are exactly the ones
// Plan shows and chdb checks.
type params map[string]int64

func (p params) bind(q string) (string, error) { return sqlparam.Bind(q, p) }

var ddlColumnRE = regexp.MustCompile(`(?m)^\s{4}([a-z_0-9]+) [A-Z]`)

// columns lists the model's columns in table order, from its DDL.
func (m model) columns() ([]string, error) {
	ddl, ok := m.file(".ddl.sql")
	if !ok {
		return nil, fmt.Errorf("model %s has no DDL", m.name)
	}
	var out []string
	for _, mm := range ddlColumnRE.FindAllStringSubmatch(ddl, -1) {
		out = append(out, mm[1])
	}
	return out, nil
}

// version is a hash of everything that shapes the model's table: its SQL
// files and the SLA policy. A changed version forces a full rebuild with a
// fresh table.
func (m model) version(policy string) string {
	h := sha256.New()
	for _, s := range []string{".ddl.sql", ".sql", ".touch.sql"} {
		t, _ := m.file(s)
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	h.Write([]byte(policy))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
