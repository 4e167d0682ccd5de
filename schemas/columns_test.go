package schemas

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
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

// TestColumnsMatchMigrations keeps the tables Rows fills and the DDL from
// drifting apart: same names, same types, same order.
func TestColumnsMatchMigrations(t *testing.T) {
	sql := migrationTables(t)
	for _, tbl := range tables {
		want, ok := sql[tbl.name]
		if !ok {
			t.Errorf("no migration creates %s", tbl.name)
			continue
		}
		var names, types []string
		for _, c := range tbl.cols {
			names = append(names, c.name)
			types = append(types, c.typ.String())
		}
		if !reflect.DeepEqual(names, want.names) || !reflect.DeepEqual(types, want.types) {
			t.Errorf("%s: columns\n go  %v\n     %v\n sql %v\n     %v", tbl.name, names, types, want.names, want.types)
		}
	}
	if got := sql[ProgressTable].names; !reflect.DeepEqual(got, ProgressColumns) {
		t.Errorf("%s: columns\n go  %v\n sql %v", ProgressTable, ProgressColumns, got)
	}
	if len(sql) != len(tables)+1 {
		t.Errorf("migrations create %d tables, want %d typed + raw + rejects + progress", len(sql), len(tables)+1)
	}
	if len(tables) != len(Tables())+2 || tables[0] != EventsRaw || tables[len(tables)-1] != IngestRejects {
		t.Errorf("Rows tables: %d, want raw, %d typed, rejects", len(tables), len(Tables()))
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
