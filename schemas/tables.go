package schemas

import "strings"

// The ClickHouse tables of contract v1 (schemas/migrations creates them).
// This file is the one list of their names and columns: the typed tables
// come from the families, the others are below.
const (
	// RawTable is the table of every accepted event as received.
	RawTable = "events_raw"
	// RejectsTable is the table of rejected messages.
	RejectsTable = "ingest_rejects"
	// ProgressTable is the table of consumer progress reports (lag, last
	// commit) per partition, written by ingest for the stall alert.
	ProgressTable = "ingest_progress"
)

// ProgressColumns are the columns of ProgressTable, in table order.
var ProgressColumns = []string{
	"consumer_group", "kafka_topic", "kafka_partition", "member", "committed_offset", "high_watermark",
	"lag", "progress_at", "reported_at",
}

// colType is the ClickHouse type of a column impact writes row by row.
type colType uint8

const (
	tString colType = iota
	tNullString
	tDateTime
	tNullDateTime
	tFloat64
	tNullFloat64
	tInt64
	tNullInt64
	tUInt8
	tNullUInt8
	tInt32
	tStrings // Array(String)
	nColTypes
)

var colTypeNames = [nColTypes]string{
	"String", "Nullable(String)", "DateTime", "Nullable(DateTime)", "Float64", "Nullable(Float64)",
	"Int64", "Nullable(Int64)", "UInt8", "Nullable(UInt8)", "Int32", "Array(String)",
}

func (t colType) String() string { return colTypeNames[t] }

func (t colType) nullable() bool {
	switch t {
	case tNullString, tNullDateTime, tNullFloat64, tNullInt64, tNullUInt8:
		return true
	}
	return false
}

type colDef struct {
	name string
	typ  colType
}

// Table is a ClickHouse table that Rows fills: events_raw, a typed table or
// ingest_rejects.
type Table struct {
	name  string
	cols  []colDef
	index int    // position in Rows.Blocks
	query string // INSERT INTO name (columns) FORMAT Native: fixed, never from input
	// year is the index of event_time, by whose year the table is
	// partitioned; -1 for an unpartitioned table.
	year int
}

func newTable(name string, cols []colDef) *Table {
	t := &Table{name: name, cols: cols, year: -1}
	names := t.Columns()
	for i, n := range names {
		if n == "event_time" {
			t.year = i
		}
	}
	t.query = "INSERT INTO " + name + " (" + strings.Join(names, ", ") + ") FORMAT Native"
	return t
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Index is the table's position in Rows.Blocks.
func (t *Table) Index() int { return t.index }

// Columns returns the table's column names in table order.
func (t *Table) Columns() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
	}
	return out
}

// column returns the index of the named column, -1 if none.
func (t *Table) column(name string) int {
	for i, c := range t.cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// Envelope columns lead every typed table; lineage columns end it.
var (
	envelopeDefs = []colDef{{"event_source", tString}, {"event_id", tString}, {"event_type", tString}, {"event_time", tDateTime}}
	lineageDefs  = []colDef{{"kafka_topic", tString}, {"kafka_partition", tInt32}, {"kafka_offset", tInt64}, {"ingested_at", tDateTime}}
)

// Column indexes of the raw and rejects tables, used when appending rows.
const (
	rawSubject = 4 + iota
	rawEntityID
	rawDataSchema
	rawPayload
	rawLineage
)

var rawTable = newTable(RawTable, concat(envelopeDefs, []colDef{
	{"subject", tString}, {"entity_id", tString}, {"data_schema", tString}, {"payload", tString},
}, lineageDefs))

var rejectsTable = newTable(RejectsTable, []colDef{
	{"kafka_topic", tString}, {"kafka_partition", tInt32}, {"kafka_offset", tInt64}, {"rejected_at", tDateTime},
	{"field", tString}, {"rule", tString}, {"detail", tString}, {"event_source", tString}, {"event_id", tString},
	{"event_type", tString}, {"payload_prefix", tString},
})

func concat(parts ...[]colDef) []colDef {
	var out []colDef
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fieldType is the column type of a data field.
func fieldType(f *field) colType {
	null := func(t colType) colType {
		if f.required {
			return t
		}
		return t + 1 // each nullable type follows its base type
	}
	switch f.kind {
	case kindTime:
		return null(tDateTime)
	case kindNumber:
		return null(tFloat64)
	case kindInteger:
		if f.max <= 255 && f.min >= 0 {
			return null(tUInt8)
		}
		return null(tInt64)
	case kindBool:
		return null(tUInt8)
	case kindStrings:
		return tStrings
	}
	return null(tString)
}

// tables is every table Rows fills, in Rows.Blocks order: events_raw, the
// typed tables in family order, ingest_rejects.
var tables []*Table

// Tables lists the typed tables, one per entity.
func Tables() []string {
	out := make([]string, len(families))
	for i, f := range families {
		out[i] = f.table
	}
	return out
}
