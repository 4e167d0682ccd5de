package architecture

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"unicode"
)

// fingerprints of a file: its bytes, and its bytes without white space
// (a copy re-indented or with other line endings is still a copy), or for
// JSON its canonical form (keys sorted, strings re-escaped: a reformatted
// copy is still a copy).
type fingerprints struct{ raw, squeezed [sha256.Size]byte }

func fingerprint(b []byte) fingerprints {
	f := fingerprints{raw: sha256.Sum256(b)}
	if c, ok := canonicalJSON(b); ok {
		f.squeezed = sha256.Sum256(c)
	} else {
		f.squeezed = sha256.Sum256(squeeze(b))
	}
	return f
}

// canonicalJSON re-encodes a JSON document with sorted keys and numbers as
// written.
func canonicalJSON(b []byte) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	c, err := json.Marshal(v)
	return c, err == nil
}

func squeeze(b []byte) []byte {
	return bytes.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, b)
}

// TestNoSharedFixtureCopies fails when a file of the repository is a copy
// of a published vendor sample of ../shared/fixtures: those stay outside
// the repository (their licences are not the project's), and tests read
// them from there.
func TestNoSharedFixtureCopies(t *testing.T) {
	dir, _ := root(t)
	shared := filepath.Join(dir, "..", "shared", "fixtures")
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("shared fixtures: %v (the repository expects ../shared/fixtures beside it)", err)
	}
	fixtures := map[[sha256.Size]byte]string{}
	largest := int64(0)
	err := filepath.WalkDir(shared, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(squeeze(b)) < 16 {
			return nil // too small to tell a copy from a coincidence
		}
		f := fingerprint(b)
		rel, _ := filepath.Rel(shared, p)
		fixtures[f.raw], fixtures[f.squeezed] = rel, rel
		largest = max(largest, int64(len(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fixtures) == 0 {
		t.Fatalf("no files under %s", shared)
	}
	checked := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		// Re-indenting can at most grow a file by its white space; a file
		// many times the largest sample is no copy of one (and binaries are
		// not read).
		if info.Size() > 8*largest+4096 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		checked++
		f := fingerprint(b)
		rel, _ := filepath.Rel(dir, p)
		if src, ok := fixtures[f.raw]; ok {
			t.Errorf("%s is a copy of ../shared/fixtures/%s: remove it and read the shared file", rel, src)
		} else if src, ok := fixtures[f.squeezed]; ok {
			t.Errorf("%s is a copy of ../shared/fixtures/%s (format aside): remove it and read the shared file", rel, src)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files of %s", checked, dir)
	}
}

// TestFingerprint shows the comparison catches a re-indented copy and
// tells different content apart.
func TestFingerprint(t *testing.T) {
	orig := fingerprint([]byte("{\n  \"action\": \"created\",\n  \"alert\": {\"number\": 2}\n}\n"))
	tests := []struct {
		name          string
		b             string
		raw, anyMatch bool
	}{
		{"same bytes", "{\n  \"action\": \"created\",\n  \"alert\": {\"number\": 2}\n}\n", true, true},
		{"compacted, CRLF", "{\"action\":\"created\",\r\n\"alert\":{\"number\":2}}", false, true},
		{"keys reordered, escaped", "{\"alert\":{\"number\":2},\"\\u0061ction\":\"created\"}", false, true},
		{"other value", "{\"action\":\"created\",\"alert\":{\"number\":3}}", false, false},
		{"not JSON", "action: created\nalert:\n  number: 2\n", false, false},
	}
	for _, tt := range tests {
		f := fingerprint([]byte(tt.b))
		if raw, anyMatch := f.raw == orig.raw, f.raw == orig.raw || f.squeezed == orig.squeezed; raw != tt.raw || anyMatch != tt.anyMatch {
			t.Errorf("%s: raw match %v, any match %v; want %v, %v", tt.name, raw, anyMatch, tt.raw, tt.anyMatch)
		}
	}
}
