package brief

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/statements.golden.sql")

// TestStatementsGolden keeps the SQL Load sends for one quarter, parameters
// inlined, as a golden file, so a change of the brief's queries shows in
// review. `go test ./dashboards/brief -run Golden -update` rewrites it.
func TestStatementsGolden(t *testing.T) {
	stmts, err := Statements(Period{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(stmts, ";\n\n") + ";\n"
	const path = "testdata/statements.golden.sql"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("statements differ from %s (run with -update if intended):\n%s", path, got)
	}
	for _, s := range stmts {
		if strings.Contains(s, "@") {
			t.Errorf("parameter left in statement:\n%s", s)
		}
	}
}
