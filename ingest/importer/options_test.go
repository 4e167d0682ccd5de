package importer

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestOptionsValidate: the zero value is a dry run's defaults except for
// the publisher; a bad field is an error naming it.
func TestOptionsValidate(t *testing.T) {
	publish := func(context.Context, io.Reader) (int, error) { return 0, nil }
	dir := t.TempDir()
	tests := []struct {
		name string
		o    Options
		want string // "" = valid
	}{
		{"dry run", Options{DryRun: true}, ""},
		{"publish", Options{Publish: publish, TempDir: dir}, ""},
		{"no publisher", Options{}, "Publish is nil"},
		{"missing temp dir", Options{DryRun: true, TempDir: filepath.Join(dir, "gone")}, "TempDir"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}
