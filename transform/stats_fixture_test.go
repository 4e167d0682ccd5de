package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
)

// TestStatsFixture is impact_stats' fixture test, the Go-computed model's
// counterpart of TestModelFixtures: its inputs are the golden outputs of
// the SQL models it reads (testdata/models/<model>/output.json) and the
// event tables of department_scorecard's input, so the fixtures chain the
// way the refresh does; impact_stats alone is computed on ClickHouse 18.16
// and its rows compared with testdata/models/impact_stats/output.json
// (computed_at, the wall clock, left out). The data are far below the
// minimum n, so the golden rows pin the counts, periods, blanked
// estimates and notes; the estimates themselves are checked against
// reference values and by the coverage test.
func TestStatsFixture(t *testing.T) {
	t.Parallel()
	events, err := readFixture(filepath.Join("testdata", "models", "department_scorecard", "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn := testConn(t)
	if err := execFile(ctx, conn, "state.ddl.sql", tmplData{}); err != nil {
		t.Fatal(err)
	}
	for _, table := range statsModel.reads {
		rows, ok := events[table]
		if m := modelNamed(table); m != nil {
			if err := execFile(ctx, conn, table+".ddl.sql", tmplData{Table: table}); err != nil {
				t.Fatal(err)
			}
			if rows, err = modelOutput(table); err != nil {
				t.Fatal(err)
			}
		} else if !ok {
			t.Fatalf("impact_stats reads %s: neither a model with a fixture nor an event table of department_scorecard's input", table)
		}
		if err := insertRows(ctx, conn, table, rows); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := refreshStats(ctx, conn, StatsOptions{}, fixtureAsOf, noWait, nil); err != nil {
		t.Fatal(err)
	}
	got, err := tableRows(ctx, conn, statsModel)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "models", StatsTable, "output.json"), computedAt.ReplaceAll(got, []byte(`"computed_at": null`)))

	// As an incremental refresh runs it: each read waits for its tables,
	// which come in another order than the reads'; the rows are the same.
	order := []string{"department_scorecard", "finding_groups", "ticket_facts", "deployment_facts", "dora_changes", "deal_facts"}
	var mu sync.Mutex
	arrived := map[string]chan struct{}{}
	for _, name := range order {
		arrived[name] = make(chan struct{})
	}
	var waited []string
	go func() {
		for _, name := range order {
			time.Sleep(20 * time.Millisecond)
			close(arrived[name])
		}
	}()
	wait := func(ctx context.Context, tables ...string) error {
		for _, name := range tables {
			mu.Lock()
			waited = append(waited, name)
			mu.Unlock()
			if ch := arrived[name]; ch != nil {
				<-ch
			}
		}
		return nil
	}
	if _, err := refreshStats(ctx, conn, StatsOptions{}, fixtureAsOf, wait, nil); err != nil {
		t.Fatal(err)
	}
	if again, err := tableRows(ctx, conn, statsModel); err != nil {
		t.Fatal(err)
	} else if !bytes.Equal(computedAt.ReplaceAll(again, nil), computedAt.ReplaceAll(got, nil)) {
		t.Error("impact_stats computed as its tables arrive differs from impact_stats computed from built tables")
	}
	slices.Sort(waited)
	if want := []string{"deal_facts", "department_scorecard", "deployment_facts", "dora_changes", "finding_groups", "ticket_facts"}; !slices.Equal(waited, want) {
		t.Errorf("reads waited for %v, want %v", waited, want)
	}

	// A table that is not built (its model failed) fails the computation,
	// which stops instead of waiting for it, and impact_stats stays.
	failed := errors.New("finding_groups: not built")
	_, err = refreshStats(ctx, conn, StatsOptions{}, fixtureAsOf, func(ctx context.Context, tables ...string) error {
		if slices.Contains(tables, "finding_groups") {
			return failed
		}
		return nil
	}, nil)
	if !errors.Is(err, failed) {
		t.Errorf("refreshStats with finding_groups not built: %v, want %v", err, failed)
	}
	if again, err := tableRows(ctx, conn, statsModel); err != nil {
		t.Fatal(err)
	} else if !bytes.Equal(computedAt.ReplaceAll(again, nil), computedAt.ReplaceAll(got, nil)) {
		t.Error("a failed computation changed impact_stats")
	}
}

var computedAt = regexp.MustCompile(`"computed_at": "[^"]*"`)

// modelOutput reads a model's golden output as input rows: tableRows
// writes every value as text, so numbers become JSON numbers again and
// arrays ['a','b'] JSON arrays, by the column types of the model's DDL.
func modelOutput(table string) ([]map[string]any, error) {
	path := filepath.Join("testdata", "models", table, "output.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ddl, ok := modelNamed(table).file(".ddl.sql")
	if !ok {
		return nil, fmt.Errorf("model %s has no DDL", table)
	}
	types := map[string]string{}
	for _, m := range ddlColumnTypeRE.FindAllStringSubmatch(ddl, -1) {
		types[m[1]] = m[2]
	}
	for i, row := range rows {
		for c, v := range row {
			s, ok := v.(string)
			if !ok {
				continue
			}
			typ := types[c]
			switch {
			case strings.Contains(typ, "Array(String)"):
				row[c] = arrayText(s)
			case typ == "Date" && s == "0000-00-00": // how 18.16 prints the epoch's Date
				row[c] = "1970-01-01"
			case strings.Contains(typ, "Array(Float64)"):
				var a []json.Number
				if err := json.Unmarshal([]byte(s), &a); err != nil {
					return nil, fmt.Errorf("%s row %d, %s: %w", path, i+1, c, err)
				}
				out := make([]any, len(a))
				for k, n := range a {
					out[k] = n
				}
				row[c] = out
			case strings.Contains(typ, "Int") || strings.Contains(typ, "Float"):
				row[c] = json.Number(s)
			case typ == "":
				return nil, fmt.Errorf("%s row %d: column %s not in the DDL", path, i+1, c)
			}
		}
	}
	return rows, nil
}

// ddlColumnTypeRE matches a column line of a DDL: its name and type.
var ddlColumnTypeRE = regexp.MustCompile(`(?m)^\s+([a-z_0-9]+) ((?:[A-Za-z0-9]+\()*[A-Za-z0-9]+\)*)`)

// arrayText parses ClickHouse's text of an Array(String) of simple
// values: ['a','b'].
func arrayText(s string) []any {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	out := []any{}
	if s == "" {
		return out
	}
	for _, e := range strings.Split(s, ",") {
		out = append(out, strings.Trim(e, "'"))
	}
	return out
}

func TestArrayText(t *testing.T) {
	for in, want := range map[string][]any{"[]": {}, "['a']": {"a"}, "['F-1','F-2']": {"F-1", "F-2"}} {
		if got := arrayText(in); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
}
