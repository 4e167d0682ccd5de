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
	"github.com/secimpact/impact/schemas/migrations"
)

//go:embed sql/*.sql
var sqlFS embed.FS

// model is one analyst contract table built by SQL. Its files in sql/ are
// <name>.ddl.sql (the CREATE TABLE, with a COMMENT on every column, the
// source of docs/data-dictionary.md), <name>.sql (INSERT ... SELECT that
// builds rows, with an incremental variant filtered on transform_keys) and,
// for models refreshed incrementally, <name>.touch.sql (which entity keys
// changed since the watermark).
//
// Each model declares the tables it reads; the refresh derives from them
// what runs after what (buildOrder): a model runs after every model whose
// table it reads, and models that read none of each other's tables run
// side by side. TestModelReads checks each declaration against the
// model's SQL.
type model struct {
	name  string   // table name, also the model name in transform_keys/state
	key   string   // entity key column; empty: always rebuilt in full
	reads []string // tables it reads: typed tables (migrations) or other models' tables
	// layered: the table is a view over a base and a delta table
	// (layers.go). Only for a model whose touched entities each get a row
	// (deal_facts has none for an open deal), and whose table no reader
	// reads with PREWHERE (18.16 refuses it on a view: dora_changes reads
	// deployment_facts so).
	layered bool
}

// sqlModels are the models built by SQL, in the order they are listed
// (Tables, reports) within a build level.
var sqlModels = []model{
	{name: "findings", key: "finding_id", reads: []string{"finding_events", "service_events"}, layered: true},
	{name: "deal_facts", key: "opportunity_id", reads: []string{"opportunity_events", "review_events"}},
	{name: "deployment_facts", key: "deployment_id", reads: []string{"deployment_events", "gate_events", "service_events"}},
	{name: "ticket_facts", key: "ticket_id", reads: []string{"ticket_events", "incident_events"}, layered: true},
	// Full each time: the groups depend on the as-of time (open findings'
	// ages, security debt).
	{name: "finding_groups", reads: []string{"findings"}},
	{name: "department_scorecard", reads: []string{"finding_groups", "deployment_facts", "incident_events",
		"policy_exception_events", "vendor_assessment_events"}},
	// Keyed by the change; its touched changes come from deployment_facts'
	// and findings' keys of the same run (dora_changes.touch.sql).
	{name: "dora_changes", key: "deployment_id", reads: []string{"deployment_facts", "findings", "incident_events"}},
}

// modelNamed returns the SQL model of that name, or nil.
func modelNamed(name string) *model {
	for i := range sqlModels {
		if sqlModels[i].name == name {
			return &sqlModels[i]
		}
	}
	return nil
}

// statsModel is impact_stats, computed in Go (stats.go) from the tables it
// reads (queries.go, statsload.go).
var statsModel = model{name: StatsTable, reads: []string{"finding_groups", "deal_facts", "deployment_facts", "ticket_facts", "dora_changes",
	"department_scorecard", "incident_events", "policy_exception_events", "vendor_assessment_events"}}

// Tables lists the analyst contract tables transform maintains, in build
// order.
func Tables() []string {
	levels, err := buildOrder()
	if err != nil {
		// The declarations are constants checked by the package's tests
		// (TestBuildOrder); list them as declared.
		levels = [][]model{append(append([]model(nil), sqlModels...), statsModel)}
	}
	var out []string
	for _, l := range levels {
		for _, m := range l {
			out = append(out, m.name)
		}
	}
	return out
}

// buildOrder returns the models (SQL models and impact_stats) in build
// levels, from their declarations and the tables the migrations create.
func buildOrder() ([][]model, error) {
	provided, err := migrationTables()
	if err != nil {
		return nil, err
	}
	return order(append(append([]model(nil), sqlModels...), statsModel), provided)
}

var createTableRE = regexp.MustCompile(`(?im)^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:[A-Za-z_][A-Za-z0-9_]*\.)?([A-Za-z_][A-Za-z0-9_]*)`)

// migrationTables lists the tables the migrations create.
func migrationTables() ([]string, error) {
	ms, err := migrations.Load(nil)
	if err != nil {
		return nil, fmt.Errorf("transform: tables of the migrations: %w", err)
	}
	var out []string
	for _, m := range ms {
		for _, q := range m.Statements {
			for _, mm := range createTableRE.FindAllStringSubmatch(q, -1) {
				out = append(out, mm[1])
			}
		}
	}
	return out, nil
}

// order sorts models into build levels: a model comes one level after the
// last of the models whose tables it reads; within a level models keep
// their listed order. provided are the tables something other than a
// model creates (the migrations). A model reading a table that neither a
// model nor provided holds, and models that read each other's tables (a
// cycle), are errors. A model may read its own table (the live table an
// incremental refresh compares with).
func order(ms []model, provided []string) ([][]model, error) {
	have := map[string]bool{}
	for _, t := range provided {
		have[t] = true
	}
	byName := map[string]int{}
	for i, m := range ms {
		if _, dup := byName[m.name]; dup {
			return nil, fmt.Errorf("transform: model %s is declared twice", m.name)
		}
		byName[m.name] = i
	}
	for _, m := range ms {
		for _, t := range m.reads {
			if _, isModel := byName[t]; !isModel && !have[t] {
				return nil, fmt.Errorf("transform: model %s reads table %s, which no model or migration provides", m.name, t)
			}
		}
	}
	level := make([]int, len(ms)) // -1: not placed yet
	for i := range level {
		level[i] = -1
	}
	var out [][]model
	for placed := 0; placed < len(ms); {
		var next []int
		for i, m := range ms {
			if level[i] >= 0 {
				continue
			}
			ready := true
			for _, t := range m.reads {
				if j, isModel := byName[t]; isModel && j != i && level[j] < 0 {
					ready = false
					break
				}
			}
			if ready {
				next = append(next, i)
			}
		}
		if len(next) == 0 {
			var stuck []string
			for i, m := range ms {
				if level[i] < 0 {
					stuck = append(stuck, m.name)
				}
			}
			return nil, fmt.Errorf("transform: models %s read each other's tables (a cycle): no build order", strings.Join(stuck, ", "))
		}
		var l []model
		for _, i := range next {
			level[i] = len(out)
			l = append(l, ms[i])
		}
		out = append(out, l)
		placed += len(next)
	}
	return out, nil
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
	Base, Delta string   // a layered model's base and delta tables (layers.go)
	Partitions  string   // comma-separated partition values (integers)
	Attach      []string // partition ids to attach from Source (checked: digits)
	Incremental bool
	// CatalogChanged: the service catalog has rows written since the last
	// refresh, so the touch queries look for the entities of changed
	// services (params catalog_changed).
	CatalogChanged bool
	// In filters a typed table by a set computed on the server running the
	// refresh (from transform_keys, a table of that server only): on a
	// cluster GLOBAL IN, which sends the set to the shards; on one server
	// IN, which ClickHouse 18.16 matches against the primary key (the set
	// GLOBAL IN reads into a temporary table is not: every key is read).
	In string
}

// inOperator is tmplData.In for a refresh on a cluster or on one server.
func inOperator(cluster bool) string {
	if cluster {
		return "GLOBAL IN"
	}
	return "IN"
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

// fileStatements renders the statements of sql/<file> with d.
func fileStatements(file string, d tmplData) ([]string, error) {
	b, err := sqlFS.ReadFile("sql/" + file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return statements(file, string(b), d)
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
	return migrations.Split(buf.String()), nil
}

// params are the values the model SQL refers to as @name: Unix times and
// durations in seconds, all computed by this package; and catalog_changed
// (0 or 1), which the touch templates read (tmplData.CatalogChanged). They are inlined as
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
	if m.layered {
		for _, f := range []string{"layer_view.sql", "layer_key.sql", "layer_collisions.sql", "layer_delta.sql", "layer_fold.sql"} {
			t, _ := sqlFS.ReadFile("sql/" + f)
			h.Write(t)
			h.Write([]byte{0})
		}
	}
	h.Write([]byte(policy))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
