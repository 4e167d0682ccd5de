package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const kestrel = "../../ingest/sources/testdata/kestrel/"

// TestImportCommand runs impact import and impact catalog import as a user
// would, in dry runs: good exports summarise, bad ones stop with an error
// naming the file, line and field (and the importer publishes nothing for
// a run with a bad file: ingest/importer's TestInvalidFilePublishesNothing).
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	page, err := os.ReadFile(kestrel + "zendesk/incremental-tickets-1.json")
	if err != nil {
		t.Fatal(err)
	}
	truncated := write("tickets-truncated.json", string(page[:len(page)/2]))
	badHeader := write("opportunities.csv", "\"Opportunity Name\",\"Stage\"\n\"Acme\",\"Closed Won\"\n")
	badMapping := write("mapping.yaml", "version: 1\ncrm:\n  segmnets: {Enterprise: enterprise}\n")
	badDate := write("deals.csv", "Record ID,Deal Stage,Create Date,Associated Company IDs\n1,Closed Won,14/03/2026 10:22,9\n")
	m := kestrel + "mapping.yaml"

	for _, c := range []struct {
		name string
		args []string
		want []string // in the output (success) or the error
		fail bool
	}{
		{"salesforce", []string{"import", "salesforce", kestrel + "salesforce", "--mapping", m, "--dry-run"},
			[]string{"salesforce: 193 records read from 2 files: 193 mapped, 0 ignored, 0 rejected", "dry run: nothing published"}, false},
		{"catalog", []string{"catalog", "import", kestrel + "catalog/2025-10", "--effective-at", "2025-10-01", "--mapping", m, "--dry-run"},
			[]string{"catalog: 15 records read from 2 files: 12 mapped, 3 ignored", "first 2025-10-01T00:00:00Z"}, false},
		{"wrong CSV header", []string{"import", "salesforce", badHeader, "--mapping", m, "--dry-run"},
			[]string{badHeader + `:1: field "Opportunity ID": header: missing column "Opportunity ID"`, "nothing published"}, true},
		{"truncated JSON page", []string{"import", "zendesk", kestrel + "zendesk/satisfaction_ratings.json", truncated, "--mapping", m, "--dry-run"},
			[]string{truncated + ":", `field "tickets[`, "the page ends early (truncated download?)", "nothing published"}, true},
		{"mapping with an unknown key", []string{"import", "salesforce", kestrel + "salesforce", "--mapping", badMapping, "--dry-run"},
			[]string{badMapping + ":3: crm.segmnets: unknown key"}, true},
		{"date in an unknown format", []string{"import", "hubspot", badDate, "--mapping", m, "--dry-run"},
			[]string{badDate + `:2: field "Create Date": date "14/03/2026 10:22": want YYYY-MM-DD`, "nothing published"}, true},
		{"catalog without a date", []string{"catalog", "import", kestrel + "catalog/2025-10", "--dry-run"},
			[]string{"Pass --effective-at DATE"}, true},
		{"unknown source", []string{"import", "sap", badDate}, []string{`unknown source "sap"`}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			resetFlags(rootCmd)
			var out bytes.Buffer
			rootCmd.SetOut(&out)
			rootCmd.SetErr(&out)
			rootCmd.SetArgs(c.args)
			err := rootCmd.Execute()
			text := out.String()
			if err != nil {
				text += err.Error()
			}
			if (err != nil) != c.fail {
				t.Fatalf("error %v, want failure %v\n%s", err, c.fail, text)
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}

	// --json prints the summary as JSON.
	resetFlags(rootCmd)
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs([]string{"import", "jira", kestrel + "jira", "--mapping", m, "--dry-run", "--json"})
	if err := rootCmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Source string `json:"source"`
		Read   int    `json:"read"`
		Events int    `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Source != "jira" || s.Read != 13 || s.Events == 0 {
		t.Errorf("json summary %s: %v", out.String(), err)
	}
}

// resetFlags sets every flag of cmd and its subcommands back to its
// default, as a new process would have it.
func resetFlags(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				sv.Replace(nil)
			} else {
				f.Value.Set(f.DefValue)
			}
			f.Changed = false
		}
	})
	for _, c := range cmd.Commands() {
		resetFlags(c)
	}
}
