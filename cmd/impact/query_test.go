package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSQL(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "q.sql")
	if err := os.WriteFile(file, []byte("SELECT 2"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.sql")
	if err := os.WriteFile(big, []byte("SELECT 1 -- "+strings.Repeat("x", maxSQL)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		file  string
		stdin string
		want  string // the SQL, or a part of the error
		fails bool
	}{
		{name: "argument", args: []string{"SELECT 1"}, want: "SELECT 1"},
		{name: "file", file: file, want: "SELECT 2"},
		{name: "stdin", args: []string{"-"}, stdin: "SELECT 3", want: "SELECT 3"},
		{name: "stdin without args", stdin: "SELECT 4", want: "SELECT 4"},
		{name: "both", args: []string{"SELECT 1"}, file: file, want: "not both", fails: true},
		{name: "empty stdin", stdin: "  \n", want: "no SQL given", fails: true},
		{name: "missing file", file: filepath.Join(dir, "none.sql"), want: "read SQL file", fails: true},
		{name: "stdin too long", stdin: strings.Repeat("x", maxSQL+1), want: "longer than", fails: true},
		{name: "stdin at the bound", stdin: "SELECT 5" + strings.Repeat(" ", maxSQL-8), want: "SELECT 5"},
		{name: "file too long", file: big, want: "big.sql: longer than", fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSQL(tc.args, tc.file, strings.NewReader(tc.stdin))
			switch {
			case tc.fails && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			case !tc.fails && (err != nil || strings.TrimSpace(got) != tc.want):
				t.Errorf("got %.20q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
