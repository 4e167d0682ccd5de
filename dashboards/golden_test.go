package dashboards

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
)

// TestExpandedSQLGolden keeps, under testdata/expanded, every panel query as
// ClickHouse receives it for a fixed time range and fixed variables, so a
// review sees the exact SQL a change sends. -update rewrites them.
func TestExpandedSQLGolden(t *testing.T) {
	r := Request{
		From:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		To:       time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
		Interval: time.Hour,
	}
	sel := map[string]Selection{"department": Select("Engineering"), "team": SelectAll}
	files := map[string][]byte{}
	for _, d := range All() {
		queries, err := d.Queries()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			name := q.Name
			got, err := d.Render(q.SQL, sel, r)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got += "\n"
			files[name] = []byte(got)
		}
	}
	golden.CheckDir(t, filepath.Join("testdata", "expanded"), files, func(rel string) bool { return strings.HasSuffix(rel, ".sql") })
}
