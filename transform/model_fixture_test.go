package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/internal/testenv"
)

// fixtureAsOf is the as-of time of every model fixture.
var fixtureAsOf = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

// TestModelFixtures builds each SQL model alone, in full, on ClickHouse
// (18.16 unless IMPACT_CLICKHOUSE_ADDR names another server), from the
// rows of testdata/models/<model>/input.json (table name -> rows; a row
// names the columns it sets, the others take their defaults), as of
// 2026-07-01 under the default SLA policy, and compares the table it
// builds with testdata/models/<model>/output.json (go test -update
// rewrites it). A wrong model fails its own subtest. The input must name
// every table the model declares it reads, and only those.
func TestModelFixtures(t *testing.T) {
	t.Parallel()
	for _, m := range sqlModels {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata", "models", m.name)
			input, err := readFixture(filepath.Join(dir, "input.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tables []string
			for table := range input {
				tables = append(tables, table)
			}
			slices.Sort(tables)
			if want := slices.Sorted(slices.Values(m.reads)); !slices.Equal(tables, want) {
				t.Fatalf("input.json holds tables %v; the model reads %v: give rows (or []) for each", tables, want)
			}

			ctx := context.Background()
			conn := testConn(t)
			if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
				t.Fatal(err)
			}
			for _, table := range tables {
				if modelNamed(table) != nil {
					if err := execFile(ctx, conn, table+".ddl.sql", tmplData{Table: table}); err != nil {
						t.Fatal(err)
					}
				}
				if err := insertRows(ctx, conn, table, input[table]); err != nil {
					t.Fatal(err)
				}
			}

			p := runParams(Options{SLA: DefaultSLAPolicy}, fixtureAsOf, time.Unix(0, 0), fixtureAsOf)
			stmts, err := modelSteps(m, Full, p, false, layout{})
			if err != nil {
				t.Fatal(err)
			}
			if err := execAll(ctx, conn, append(stmts, swapSteps(m.name, false)...), "build "+m.name); err != nil {
				t.Fatal(err)
			}
			got, err := tableRows(ctx, conn, m)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join(dir, "output.json"), got)
		})
	}
}

func readFixture(path string) (map[string][]map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var in map[string][]map[string]any
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return in, nil
}

// insertRows writes rows to table through one batch of the columns the
// rows name, converting each JSON value to the column's type.
func insertRows(ctx context.Context, conn driver.Conn, table string, rows []map[string]any) error {
	if len(rows) == 0 {
		return nil
	}
	types := map[string]string{}
	r, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = @table",
		clickhouse.Named("table", table))
	if err != nil {
		return fmt.Errorf("columns of %s: %w", table, err)
	}
	for r.Next() {
		var name, typ string
		if err := r.Scan(&name, &typ); err != nil {
			return err
		}
		types[name] = typ
	}
	r.Close()
	var cols []string
	for _, row := range rows {
		for c := range row {
			if _, ok := types[c]; !ok {
				return fmt.Errorf("%s has no column %s", table, c)
			}
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	slices.Sort(cols)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+")")
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	defer b.Close()
	for i, row := range rows {
		vals := make([]any, len(cols))
		for j, c := range cols {
			v, ok := row[c]
			if !ok && !strings.HasPrefix(types[c], "Nullable(") {
				return fmt.Errorf("%s row %d: no %s (rows of a table name the same columns, bar nullable ones)", table, i+1, c)
			}
			if vals[j], err = columnValue(types[c], v); err != nil {
				return fmt.Errorf("%s row %d, %s: %w", table, i+1, c, err)
			}
		}
		if err := b.Append(vals...); err != nil {
			return fmt.Errorf("%s row %d: %w", table, i+1, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// columnValue converts a JSON value to the Go value the driver writes to
// a column of type typ: strings for String, "2006-01-02 15:04:05" (UTC)
// for DateTime, "2006-01-02" for Date, numbers, arrays of strings or
// numbers, null for Nullable.
func columnValue(typ string, v any) (any, error) {
	if inner, ok := strings.CutPrefix(typ, "Nullable("); ok {
		if v == nil {
			return nil, nil
		}
		return columnValue(strings.TrimSuffix(inner, ")"), v)
	}
	if inner, ok := strings.CutPrefix(typ, "LowCardinality("); ok {
		return columnValue(strings.TrimSuffix(inner, ")"), v)
	}
	switch typ {
	case "String":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "DateTime", "Date":
		s, ok := v.(string)
		if !ok {
			break
		}
		layout := time.DateTime
		if typ == "Date" {
			layout = time.DateOnly
		}
		return time.ParseInLocation(layout, s, time.UTC)
	case "Array(String)":
		a, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]string, len(a))
		for i, e := range a {
			if out[i], ok = e.(string); !ok {
				return nil, fmt.Errorf("%v is not an array of strings", v)
			}
		}
		return out, nil
	case "Array(Float64)":
		a, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]float64, len(a))
		for i, e := range a {
			n, ok := e.(json.Number)
			if !ok {
				return nil, fmt.Errorf("%v is not an array of numbers", v)
			}
			var err error
			if out[i], err = n.Float64(); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "UInt8", "UInt32", "UInt64", "Int32", "Int64", "Float64":
		n, ok := v.(json.Number)
		if !ok {
			break
		}
		if typ == "Float64" {
			return n.Float64()
		}
		bits, _ := strconv.Atoi(strings.TrimLeft(typ, "UInt"))
		if strings.HasPrefix(typ, "U") {
			u, err := strconv.ParseUint(n.String(), 10, bits)
			switch typ {
			case "UInt8":
				return uint8(u), err
			case "UInt32":
				return uint32(u), err
			}
			return u, err
		}
		i, err := strconv.ParseInt(n.String(), 10, bits)
		if typ == "Int32" {
			return int32(i), err
		}
		return i, err
	default:
		return nil, fmt.Errorf("type %s: not supported by the fixtures", typ)
	}
	return nil, fmt.Errorf("%v (%T) does not fit %s", v, v, typ)
}

// tableRows returns the model's table as JSON: every row, every column
// in table order as text (null for NULL), rows sorted.
func tableRows(ctx context.Context, conn driver.Conn, m model) ([]byte, error) {
	cols, err := m.columns()
	if err != nil {
		return nil, err
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = "toNullable(toString(" + c + "))"
	}
	rows, err := conn.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+m.name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", m.name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read %s: %w", m.name, err)
		}
		var b strings.Builder
		b.WriteString("  {")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(c)
			v, _ := json.Marshal(vals[i])
			fmt.Fprintf(&b, "\n    %s: %s", k, v)
		}
		b.WriteString("\n  }")
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", m.name, err)
	}
	slices.Sort(out)
	return []byte("[\n" + strings.Join(out, ",\n") + "\n]\n"), nil
}

// testConn opens a connection to a fresh migrated test database, closed
// when the test ends.
func testConn(t *testing.T) driver.Conn {
	t.Helper()
	conn, err := chconn.Open(context.Background(), testenv.ClickHouse(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
