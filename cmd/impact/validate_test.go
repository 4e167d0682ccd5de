package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	good, err := os.ReadFile("../../schemas/testdata/valid/deployment.started.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "events.jsonl")
	lines := string(bytes.Join(bytes.Fields(good), []byte(" "))) + "\n" + `{"specversion":"1.0","id":"x","source":"s","type":"nope.nope","time":"2025-01-01T00:00:00Z","data":{}}` + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args     []string
		wantCode int
		want     []string
	}{
		{[]string{"validate", file}, 1, []string{"line 2: rejected: type: unknown_type", "2 lines: 1 accepted, 1 rejected"}},
		{[]string{"validate", "--json", file}, 1, []string{`"rejected": 1`, `"type unknown_type": 1`}},
		{[]string{"schemas", "export", "--out", dir}, 0, []string{filepath.Join(dir, "v1", "security.finding.json")}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		rootCmd.SetOut(&out)
		rootCmd.SetArgs(c.args)
		err := rootCmd.Execute()
		code := 0
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if code != c.wantCode {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.wantCode)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, out.String())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "v1", "event.json")); err != nil {
		t.Error(err)
	}
}
