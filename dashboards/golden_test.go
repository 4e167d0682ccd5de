package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	seen := map[string]bool{}
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
			path := filepath.Join("testdata", "expanded", name)
			seen[filepath.ToSlash(path)] = true
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: %v (run go test ./dashboards -update)", name, err)
				continue
			}
			if !bytes.Equal(want, []byte(got)) {
				t.Errorf("%s: expanded SQL differs from %s (run go test ./dashboards -update)", name, path)
			}
		}
	}
	err := filepath.WalkDir(filepath.Join("testdata", "expanded"), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if !seen[filepath.ToSlash(p)] && strings.HasSuffix(p, ".sql") {
			if *update {
				return os.Remove(p)
			}
			t.Errorf("%s: stale golden file", p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
