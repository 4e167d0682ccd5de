// Package readonly defines what "read-only" means on impact's read paths
// (Grafana's data source and `impact query`): the settings profile every
// read-only ClickHouse user is given, on ClickHouse 18.16 and on current
// releases, and the per-query settings `impact query` sends.
//
// The profile sets readonly=1, not readonly=2. readonly=2 forbids writes
// and DDL but still runs table functions, so a reader could make the server
// fetch a URL (url()), query another server (remote()) or read local files;
// and it lets the reader raise any limit with SET or a SETTINGS clause.
// readonly=1 refuses every table function on 18.16 and, on current
// releases, every table function that is not marked allow_readonly (those
// compute locally: see HarmlessTableFunctions), and it refuses every
// setting change. Current releases can exempt a setting from the last rule
// within bounds (changeable_in_readonly): the profile does that for
// max_execution_time only, capped at its profile value, because clients
// (clickhouse-go, so Grafana's plugin and `impact query`) send it.
//
// The profile is the one place the read limits live, so that users added
// later (one per department, say) inherit it: an XML profile that names
// <profile>impact_reader</profile> first, or a SQL settings profile with
// INHERIT 'impact_reader', gets every limit below.
package readonly

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ProfileName is the settings profile of every read-only impact user.
const ProfileName = "impact_reader"

// MaxExecutionTime is the longest a read query may run. Clients may ask
// for less (impact query's --timeout, Grafana's query timeout), never more.
const MaxExecutionTime = 120 * time.Second

// Limits of the reader profile.
const (
	MaxMemoryUsage = 4000000000 // bytes per query
	MaxResultRows  = 10000000   // rows a query may return; more is an error
)

// Setting is one setting of the profile, with the value ClickHouse's XML
// configuration and SET syntax take.
type Setting struct {
	Name  string
	Value string
}

// Profile returns the reader profile's settings in order. Every supported
// server version knows them.
func Profile() []Setting {
	return []Setting{
		{"readonly", "1"},
		{"max_execution_time", strconv.Itoa(int(MaxExecutionTime.Seconds()))},
		{"max_memory_usage", strconv.Itoa(MaxMemoryUsage)},
		{"max_result_rows", strconv.Itoa(MaxResultRows)},
		{"result_overflow_mode", "throw"},
	}
}

// Constraint lets a readonly=1 user change one setting within bounds
// (ClickHouse's changeable_in_readonly, in current releases only; 18.16
// knows no constraints and refuses every change).
type Constraint struct {
	Name     string
	Min, Max string // empty: unbounded
}

// Constraints returns the settings a reader may change, and within what:
//
//   - max_execution_time: clickhouse-go sends it whenever the query's
//     context has a deadline (Grafana's plugin always sets one), and impact
//     query sends its --timeout. At least 1 second (0 would mean no limit),
//     at most the profile's value.
//   - limit: Grafana's plugin sends it when the data source's row limit is
//     enabled; it can only cut a result shorter, and max_result_rows still
//     applies.
func Constraints() []Constraint {
	secs := strconv.Itoa(int(MaxExecutionTime.Seconds()))
	return []Constraint{
		{Name: "max_execution_time", Min: "1", Max: secs},
		{Name: "limit"},
	}
}

// HarmlessTableFunctions are the table functions current ClickHouse
// releases still run under readonly=1 (system.table_functions.allow_readonly):
// each computes rows locally or reads local tables with the user's own
// SELECT grants, and none reaches a file, a URL or another server.
// cluster and clusterAllReplicas are allow_readonly too but query other
// servers; they need the REMOTE source grant, which no impact reader has,
// so they are refused (the tests check both lists against the server). 18.16 refuses every table
// function under readonly=1, these included.
var HarmlessTableFunctions = []string{
	"SQLStandardValues", "eval", "fuzzJSON", "fuzzQuery", "generateRandom",
	"generateSeries", "generate_series", "input", "merge",
	"mergeTreeAnalyzeIndexes", "mergeTreeAnalyzeIndexesUUID",
	"mergeTreeCodecBlockCounts", "mergeTreeIndex", "mergeTreeProjection",
	"mergeTreeTextIndex", "null", "numbers", "numbers_mt", "primes", "values",
	"view", "viewIfPermitted",
}

// Grants returns the privileges of a reader of database on current
// releases (18.16 has no grants: readonly=1 is all it has). Nothing else is
// granted: no CREATE TEMPORARY TABLE (which table functions need besides
// readonly) and no source (URL, REMOTE, FILE, S3, ...).
func Grants(database string) []string {
	return []string{"GRANT SELECT ON " + database + ".*"}
}

// QuerySettings returns the settings `impact query` sends with a query
// that may run for timeout: readonly=1, so the same refusals hold whoever
// connects (an admin user included), and max_execution_time, rounded up to
// whole seconds. A reader's own readonly=1 makes 18.16 ignore them (its
// native protocol drops per-query settings of readonly=1 users), and the
// profile's limits apply; current releases accept both within the
// profile's constraints.
func QuerySettings(timeout time.Duration) (map[string]int, error) {
	if timeout <= 0 || timeout > MaxExecutionTime {
		return nil, fmt.Errorf("timeout %s: must be more than 0 and at most %s (the read-only profile's max_execution_time)", timeout, MaxExecutionTime)
	}
	secs := int((timeout + time.Second - 1) / time.Second)
	return map[string]int{"readonly": 1, "max_execution_time": secs}, nil
}

// ProfileXML returns the <impact_reader> element of a users.xml
// <profiles> section, indented by indent. With constraints (current
// releases) it carries Constraints; 18.16 rejects a profile holding
// <constraints>, so servers of that era get the settings alone.
func ProfileXML(indent string, constraints bool) string {
	var b strings.Builder
	in := indent + "    "
	fmt.Fprintf(&b, "%s<%s>\n", indent, ProfileName)
	for _, s := range Profile() {
		fmt.Fprintf(&b, "%s<%s>%s</%s>\n", in, s.Name, s.Value, s.Name)
	}
	if constraints {
		fmt.Fprintf(&b, "%s<constraints>\n", in)
		for _, c := range Constraints() {
			fmt.Fprintf(&b, "%s    <%s>", in, c.Name)
			if c.Min != "" {
				fmt.Fprintf(&b, "<min>%s</min>", c.Min)
			}
			if c.Max != "" {
				fmt.Fprintf(&b, "<max>%s</max>", c.Max)
			}
			fmt.Fprintf(&b, "<changeable_in_readonly/></%s>\n", c.Name)
		}
		fmt.Fprintf(&b, "%s</constraints>\n", in)
	}
	fmt.Fprintf(&b, "%s</%s>\n", indent, ProfileName)
	return b.String()
}

// SQL returns the statements that create the reader profile and a role
// holding the reader's grants on a current release whose users are managed
// with SQL (access_management) rather than users.d XML. A reader is then
//
//	CREATE USER name IDENTIFIED BY '...' SETTINGS PROFILE 'impact_reader' DEFAULT ROLE impact_reader_role
//	GRANT impact_reader_role TO name
func SQL(database string) []string {
	var parts []string
	for _, s := range Profile() {
		v := s.Value
		if _, err := strconv.Atoi(v); err != nil {
			v = "'" + v + "'"
		}
		part := s.Name + " = " + v
		for _, c := range Constraints() {
			if c.Name == s.Name {
				part += constraintSQL(c)
			}
		}
		parts = append(parts, part)
	}
	for _, c := range Constraints() {
		if !inProfile(c.Name) {
			parts = append(parts, c.Name+constraintSQL(c))
		}
	}
	stmts := []string{
		"CREATE SETTINGS PROFILE IF NOT EXISTS " + ProfileName + " SETTINGS " + strings.Join(parts, ", "),
		"CREATE ROLE IF NOT EXISTS " + RoleName,
	}
	for _, g := range Grants(database) {
		stmts = append(stmts, g+" TO "+RoleName)
	}
	return stmts
}

// RoleName is the role SQL creates for SQL-managed readers.
const RoleName = "impact_reader_role"

func constraintSQL(c Constraint) string {
	s := ""
	if c.Min != "" {
		s += " MIN " + c.Min
	}
	if c.Max != "" {
		s += " MAX " + c.Max
	}
	return s + " CHANGEABLE_IN_READONLY"
}

func inProfile(name string) bool {
	for _, s := range Profile() {
		if s.Name == name {
			return true
		}
	}
	return false
}
