// Package sourcetest helps the tests of the source mappers: reading the
// shared vendor fixtures (../shared/fixtures beside the repository, never
// copied into it), editing JSON payloads, checking that mapped events are
// accepted by the contract decoder, and golden files.
package sourcetest

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/schemas"
)

// repoRoot finds the directory holding go.mod, walking up from the test's
// working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// SharedDir returns ../shared/fixtures/<vendor> relative to the repository
// root, where CI and the worktrees keep the vendors' published example
// payloads.
func SharedDir(t testing.TB, vendor string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "fixtures", vendor)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("shared fixtures: %v (the repository expects ../shared/fixtures beside it)", err)
	}
	return dir
}

// Shared reads ../shared/fixtures/<vendor>/<name>.
func Shared(t testing.TB, vendor, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(SharedDir(t, vendor), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SharedFiles lists the .json files of ../shared/fixtures/<vendor>.
func SharedFiles(t testing.TB, vendor string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(SharedDir(t, vendor), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shared %s fixtures: %v", vendor, err)
	}
	sort.Strings(files)
	return files
}

// Local reads testdata/<name> of the package under test.
func Local(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Edit returns the JSON document b with values set at dotted paths
// ("alert.state", "builds.0.status"); a nil value deletes the member.
func Edit(t testing.TB, b []byte, set map[string]any) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for path, v := range set {
		parts := strings.Split(path, ".")
		cur := doc
		for _, p := range parts[:len(parts)-1] {
			switch c := cur.(type) {
			case map[string]any:
				if c[p] == nil {
					c[p] = map[string]any{}
				}
				cur = c[p]
			case []any:
				i, err := strconv.Atoi(p)
				if err != nil || i >= len(c) {
					t.Fatalf("edit %s: bad index %q", path, p)
				}
				cur = c[i]
			default:
				t.Fatalf("edit %s: %q is not an object or array", path, p)
			}
		}
		last := parts[len(parts)-1]
		switch c := cur.(type) {
		case map[string]any:
			if v == nil {
				delete(c, last)
			} else {
				c[last] = v
			}
		case []any:
			i, err := strconv.Atoi(last)
			if err != nil || i >= len(c) {
				t.Fatalf("edit %s: bad index %q", path, last)
			}
			c[i] = v
		default:
			t.Fatalf("edit %s: parent is not an object or array", path)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Decode encodes ev as the gateway publishes it and decodes it with the
// contract decoder ingest uses; the test fails when the decoder rejects it.
func Decode(t testing.TB, ev sources.Event) *schemas.Event {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("encode %s: %v", ev.Type, err)
	}
	got, err := schemas.Decode(b, nil)
	if err != nil {
		t.Fatalf("the decoder rejects the mapped %s: %v\n%s", ev.Type, err, b)
	}
	if got.Subject != got.Payload.EntityID() || got.Type != ev.Type || got.ID == "" {
		t.Fatalf("envelope: subject %q entity %q type %q id %q", got.Subject, got.Payload.EntityID(), got.Type, got.ID)
	}
	return got
}

// Golden compares the events of r, as indented JSON, with
// testdata/golden/<name>.json (rewritten with -update).
func Golden(t testing.TB, name string, r sources.Result) {
	t.Helper()
	b, err := json.MarshalIndent(r.Events, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	golden.Check(t, path, b)
}

// ImportFunc is a source's export importer (salesforce.Import, ...).
type ImportFunc func(context.Context, []export.File, *mapping.File, func(export.Outcome) error) error

// Import runs an importer on files and returns every outcome it emitted.
func Import(t testing.TB, fn ImportFunc, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	var outs []export.Outcome
	err := fn(context.Background(), files, m, func(o export.Outcome) error {
		outs = append(outs, o)
		return nil
	})
	return outs, err
}

// File is an export file with content, named name.
func File(name, content string) export.File {
	return export.File{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
}

// Files are the export files at paths.
func Files(paths ...string) []export.File {
	out := make([]export.File, len(paths))
	for i, p := range paths {
		out[i] = export.OSFile(p)
	}
	return out
}
