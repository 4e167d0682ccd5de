package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder collects the failures Check reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }

func setUpdate(t *testing.T, v bool) {
	old := *update
	*update = v
	t.Cleanup(func() { *update = old })
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		file    string // "" = no file
		got     string
		update  bool
		wantErr string // substring of the reported failure; "" = none
		want    string // file content afterwards
	}{
		{name: "equal", file: "a\nb\n", got: "a\nb\n", want: "a\nb\n"},
		{name: "differs", file: "a\nb\n", got: "a\nc\n", wantErr: "- b\n+ c", want: "a\nb\n"},
		{name: "missing", got: "a\n", wantErr: "go test -update creates it"},
		{name: "update rewrites", file: "old\n", got: "new\n", update: true, want: "new\n"},
		{name: "update creates", got: "new\n", update: true, want: "new\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setUpdate(t, tt.update)
			path := filepath.Join(t.TempDir(), "sub", "x.golden")
			if tt.file != "" {
				if err := write(path, []byte(tt.file)); err != nil {
					t.Fatal(err)
				}
			}
			r := &recorder{TB: t}
			Check(r, path, []byte(tt.got))
			switch {
			case tt.wantErr == "" && len(r.errs) > 0:
				t.Errorf("unexpected failure: %v", r.errs)
			case tt.wantErr != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], tt.wantErr) || !strings.Contains(r.errs[0], path)):
				t.Errorf("failures %q, want one naming %s and containing %q", r.errs, path, tt.wantErr)
			}
			if tt.want != "" {
				b, err := os.ReadFile(path)
				if err != nil || string(b) != tt.want {
					t.Errorf("file afterwards %q (%v), want %q", b, err, tt.want)
				}
			}
		})
	}
}

func TestCheckDir(t *testing.T) {
	sqlOnly := func(rel string) bool { return strings.HasSuffix(rel, ".sql") }
	tests := []struct {
		name      string
		update    bool
		wantErrs  []string // substrings, one per failure
		wantFiles []string // files left under dir
	}{
		{name: "stale reported", wantErrs: []string{"old.sql is stale"}, wantFiles: []string{"a/q.sql", "notes.txt", "old.sql"}},
		{name: "update removes stale", update: true, wantFiles: []string{"a/q.sql", "notes.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setUpdate(t, tt.update)
			dir := t.TempDir()
			for name, s := range map[string]string{"a/q.sql": "SELECT 1\n", "old.sql": "SELECT 0\n", "notes.txt": "not selected\n"} {
				if err := write(filepath.Join(dir, name), []byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			r := &recorder{TB: t}
			CheckDir(r, dir, map[string][]byte{"a/q.sql": []byte("SELECT 1\n")}, sqlOnly)
			if len(r.errs) != len(tt.wantErrs) {
				t.Fatalf("failures %q, want %q", r.errs, tt.wantErrs)
			}
			for i, w := range tt.wantErrs {
				if !strings.Contains(r.errs[i], w) {
					t.Errorf("failure %q, want %q", r.errs[i], w)
				}
			}
			var left []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					left = append(left, filepath.ToSlash(rel))
				}
				return err
			})
			if strings.Join(left, ",") != strings.Join(tt.wantFiles, ",") {
				t.Errorf("files left %v, want %v", left, tt.wantFiles)
			}
		})
	}
}
