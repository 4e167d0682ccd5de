package brief

import (
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
)

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
	golden.Check(t, path, []byte(got))
	for _, s := range stmts {
		if strings.Contains(s, "@") {
			t.Errorf("parameter left in statement:\n%s", s)
		}
	}
}
