package schemas

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sqlTable is a CREATE TABLE of the migration files: column names and types.
type sqlTable struct {
	names, types []string
}

var (
	createRe = regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*?)\n\)\s*ENGINE`)
	columnRe = regexp.MustCompile(`^\s*(\w+)\s+(\S+)(?:\s+COMMENT\s+'[^']*')?\s*,?\s*$`)
)

// migrationTables parses this package's own migration files.
func migrationTables(t *testing.T) map[string]sqlTable {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	out := map[string]sqlTable{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createRe.FindAllStringSubmatch(string(b), -1) {
			var tbl sqlTable
			for _, line := range strings.Split(strings.TrimSpace(m[2]), "\n") {
				c := columnRe.FindStringSubmatch(line)
				if c == nil {
					t.Fatalf("%s: table %s: cannot parse column line %q", f, m[1], line)
				}
				if !strings.Contains(line, "COMMENT '") {
					t.Errorf("%s: %s.%s has no COMMENT (the data dictionary is built from them)", f, m[1], c[1])
				}
				tbl.names = append(tbl.names, c[1])
				tbl.types = append(tbl.types, c[2])
			}
			out[m[1]] = tbl
		}
	}
	return out
}

// goTypeFor is the Go type clickhouse-go v2 takes for a ClickHouse type.
var goTypeFor = map[string]reflect.Type{
	"String":             reflect.TypeFor[string](),
	"Nullable(String)":   reflect.TypeFor[*string](),
	"DateTime":           reflect.TypeFor[time.Time](),
	"Nullable(DateTime)": reflect.TypeFor[*time.Time](),
	"Float64":            reflect.TypeFor[float64](),
	"Nullable(Float64)":  reflect.TypeFor[*float64](),
	"Int64":              reflect.TypeFor[int64](),
	"Nullable(Int64)":    reflect.TypeFor[*int64](),
	"UInt8":              reflect.TypeFor[uint8](),
	"Nullable(UInt8)":    reflect.TypeFor[*uint8](),
	"Int32":              reflect.TypeFor[int32](),
	"Array(String)":      reflect.TypeFor[[]string](),
}

// TestColumnsMatchMigrations keeps Columns/AppendValues and the DDL from
// drifting apart: same names in the same order, and each value of the Go
// type clickhouse-go expects for the column.
func TestColumnsMatchMigrations(t *testing.T) {
	tables := migrationTables(t)
	seen := map[string]bool{}
	for _, ex := range loadExamples(t) {
		ev, err := Decode(ex.structured, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := ev.Payload
		if seen[p.Table()] {
			continue
		}
		seen[p.Table()] = true
		tbl, ok := tables[p.Table()]
		if !ok {
			t.Errorf("no migration creates %s", p.Table())
			continue
		}
		if got := TypedColumns(p); !reflect.DeepEqual(got, tbl.names) {
			t.Errorf("%s: columns\n go  %v\n sql %v", p.Table(), got, tbl.names)
			continue
		}
		vals := ev.AppendEnvelope(nil)
		vals = p.AppendValues(vals)
		vals = append(vals, "topic", int32(0), int64(0), time.Now()) // lineage, as ingest appends it
		for i, v := range vals {
			want, ok := goTypeFor[tbl.types[i]]
			if !ok {
				t.Errorf("%s.%s: no Go type known for %s", p.Table(), tbl.names[i], tbl.types[i])
				continue
			}
			if reflect.TypeOf(v) != want {
				t.Errorf("%s.%s %s: AppendValues gives %T, want %v", p.Table(), tbl.names[i], tbl.types[i], v, want)
			}
		}
	}
	for _, name := range Tables() {
		if !seen[name] {
			t.Errorf("no example for table %s", name)
		}
	}
	for name, cols := range map[string][]string{RawTable: RawColumns, RejectsTable: RejectColumns, ProgressTable: ProgressColumns} {
		if !reflect.DeepEqual(tables[name].names, cols) {
			t.Errorf("%s: columns\n go  %v\n sql %v", name, cols, tables[name].names)
		}
	}
	if len(tables) != len(Tables())+3 {
		t.Errorf("migrations create %d tables, want %d typed + raw + rejects + progress", len(tables), len(Tables()))
	}
}

func TestFamiliesFitScratch(t *testing.T) {
	var s state
	for _, f := range families {
		if len(f.fields) > len(s.vals) {
			t.Errorf("%s has %d fields, decoder scratch holds %d", f.name, len(f.fields), len(s.vals))
		}
	}
}
