// Package golden compares what a test produces with a committed file and
// rewrites the file when the test binary runs with -update:
//
//	go test ./transform -run TestPlanGolden -update
//
// It is the one place that defines the -update flag, so every package's
// golden files are rewritten the same way and a review sees the diff.
// Only tests import it.
package golden

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with what the tests produce")

// Check compares got with the file at path and reports a difference as a
// test error naming the file. With -update it writes got to path first
// (creating its directory), so the comparison then passes.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := write(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (go test -update creates it)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the test produced (go test -update rewrites it; review the diff):\n%s", path, excerpt(got, want))
	}
}

// CheckDir compares the files under dir with files (paths relative to
// dir, slash-separated or not) as Check does, and reports every file under
// dir that match selects but files does not hold as stale. With -update it
// writes files and removes the stale ones. A nil match selects every file.
func CheckDir(t testing.TB, dir string, files map[string][]byte, match func(rel string) bool) {
	t.Helper()
	names := make([]string, 0, len(files))
	want := map[string]bool{}
	for name := range files {
		names = append(names, name)
		want[filepath.ToSlash(name)] = true
	}
	sort.Strings(names)
	for _, name := range names {
		Check(t, filepath.Join(dir, name), files[name])
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if want[rel] || (match != nil && !match(rel)) {
			return nil
		}
		if *update {
			return os.Remove(p)
		}
		t.Errorf("%s is stale: no test produces it (go test -update removes it)", p)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// excerpt shows the first differing line of got and want with a little
// context, so a failure is readable without a diff tool.
func excerpt(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	i := 0
	for i < len(g) && i < len(w) && bytes.Equal(g[i], w[i]) {
		i++
	}
	var b bytes.Buffer
	from := max(0, i-2)
	for j := from; j < i; j++ {
		b.WriteString("  " + string(g[j]) + "\n")
	}
	if i < len(w) {
		b.WriteString("- " + string(w[i]) + "\n")
	}
	if i < len(g) {
		b.WriteString("+ " + string(g[i]) + "\n")
	}
	b.WriteString("(line " + strconv.Itoa(i+1) + "; - golden, + produced)")
	return b.String()
}
