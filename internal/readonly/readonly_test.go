package readonly_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/readonly"
	"github.com/secimpact/impact/internal/sqlcheck"
)

func TestQuerySettings(t *testing.T) {
	tests := []struct {
		timeout time.Duration
		want    int
		wantErr bool
	}{
		{60 * time.Second, 60, false},
		{1500 * time.Millisecond, 2, false},
		{readonly.MaxExecutionTime, int(readonly.MaxExecutionTime.Seconds()), false},
		{readonly.MaxExecutionTime + time.Second, 0, true},
		{0, 0, true},
		{-time.Second, 0, true},
	}
	for _, tt := range tests {
		got, err := readonly.QuerySettings(tt.timeout)
		if (err != nil) != tt.wantErr {
			t.Errorf("QuerySettings(%s) error = %v, want error %v", tt.timeout, err, tt.wantErr)
			continue
		}
		if err == nil && (got["readonly"] != 1 || got["max_execution_time"] != tt.want || len(got) != 2) {
			t.Errorf("QuerySettings(%s) = %v, want readonly 1 and max_execution_time %d", tt.timeout, got, tt.want)
		}
	}
}

func TestProfileXML(t *testing.T) {
	for _, constraints := range []bool{false, true} {
		raw := readonly.ProfileXML("  ", constraints)
		var p struct {
			XMLName     xml.Name
			Readonly    string `xml:"readonly"`
			MaxExec     string `xml:"max_execution_time"`
			Constraints *struct {
				Inner []struct {
					XMLName xml.Name
					Min     string    `xml:"min"`
					Max     string    `xml:"max"`
					CIR     *struct{} `xml:"changeable_in_readonly"`
				} `xml:",any"`
			} `xml:"constraints"`
		}
		if err := xml.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatalf("ProfileXML(%v) is not XML: %v\n%s", constraints, err, raw)
		}
		if p.XMLName.Local != readonly.ProfileName || p.Readonly != "1" || p.MaxExec != "120" {
			t.Errorf("ProfileXML(%v) = %+v", constraints, p)
		}
		if (p.Constraints != nil) != constraints {
			t.Errorf("ProfileXML(%v) constraints present = %v", constraints, p.Constraints != nil)
		}
		if constraints {
			if len(p.Constraints.Inner) != len(readonly.Constraints()) {
				t.Errorf("%d constraints, want %d", len(p.Constraints.Inner), len(readonly.Constraints()))
			}
			for _, c := range p.Constraints.Inner {
				if c.CIR == nil {
					t.Errorf("constraint %s is not changeable_in_readonly", c.XMLName.Local)
				}
			}
		}
	}
}

// TestConstraintsNeverLift: every setting a reader may change is bounded
// so that no value lifts a limit: the time limit stays between 1 second
// (0 is "no limit") and the profile's value.
func TestConstraintsNeverLift(t *testing.T) {
	profile := map[string]string{}
	for _, s := range readonly.Profile() {
		profile[s.Name] = s.Value
	}
	for _, c := range readonly.Constraints() {
		v, inProfile := profile[c.Name]
		switch {
		case c.Name == "limit":
			// Only ever cuts a result; max_result_rows still applies.
		case !inProfile:
			t.Errorf("constraint %s bounds a setting the profile does not set", c.Name)
		case c.Min != "1" || c.Max != v:
			t.Errorf("constraint %s = [%s, %s]; want [1, %s] so the profile's limit can only be lowered", c.Name, c.Min, c.Max, v)
		}
	}
}

// chdbErrors maps statement index -> chdb's error message.
func chdbErrors(t *testing.T, stmts []string) (string, map[int]string) {
	t.Helper()
	res, err := sqlcheck.Check(context.Background(), stmts, sqlcheck.Options{})
	if errors.Is(err, sqlcheck.ErrNoChDB) {
		t.Fatal(err)
	}
	out := map[int]string{}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			var se *sqlcheck.Error
			if !errors.As(e, &se) {
				t.Fatalf("chdb: %v", e)
			}
			out[se.Index] = se.Message
		}
	} else if err != nil {
		t.Fatalf("chdb: %v", err)
	}
	return res.Version, out
}

// TestCurrentClickHouse checks on a current release (chdb) what readonly=1
// does there: every table function that reaches a file, a URL or another
// server is refused, the ones it still allows are the reviewed
// HarmlessTableFunctions (and RemoteTableFunctions, which the reader's
// grants refuse), and no setting can be changed, for chdb's own admin
// user with readonly=1 (as impact query sets it). deploy's
// TestReaderOnCurrentClickHouse runs the same as users.d's reader, with
// its grants; TestSQL parses the SQL-managed equivalent.
func TestCurrentClickHouse(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "top-secret")
	}))
	defer srv.Close()
	u := srv.URL + "/bucket/key.tsv"

	refused := []string{
		fmt.Sprintf("url('%s', TSV, 's String')", u),
		fmt.Sprintf("view(SELECT * FROM url('%s', TSV, 's String'))", u),
		"remote('127.0.0.1:9000', system.one)",
		"remoteSecure('127.0.0.1:9440', system.one)",
		"file('x.tsv', TSV, 's String')",
		fmt.Sprintf("s3('%s', TSV, 's String')", u),
		fmt.Sprintf("gcs('%s', TSV, 's String')", u),
		"hdfs('hdfs://127.0.0.1:9/x.tsv', TSV, 's String')",
		"mysql('127.0.0.1:9', 'db', 't', 'u', 'p')",
		"postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')",
		"mongodb('127.0.0.1:9', 'db', 'c', 'u', 'p', 's String')",
		"redis('127.0.0.1:9', 'k', 'k String, v String')",
		"sqlite('/tmp/x.db', 't')",
		"odbc('DSN=x', 't')",
		"jdbc('jdbc:x', 't')",
		"executable('x.sh', TSV, 's String')",
		fmt.Sprintf("azureBlobStorage('%s', 'c', 'b.tsv', 'TSV')", srv.URL),
		fmt.Sprintf("icebergS3('%s')", u),
		fmt.Sprintf("deltaLake('%s')", u),
		fmt.Sprintf("hudi('%s')", u),
		"dictionary('d')",
	}
	allowed := []string{
		"numbers(1)", "generateRandom('a UInt8') LIMIT 1", "values('a UInt8', 1)",
		"null('a UInt8')", "view(SELECT 1)",
	}
	// chdb's own user has no limits (0), so these set values that differ
	// from its defaults: an unchanged value is never checked.
	lift := []string{
		"SELECT 1 SETTINGS max_execution_time = 100000",
		"SELECT 1 SETTINGS readonly = 0",
		"SELECT 1 SETTINGS max_result_rows = 100000000000",
		"SET max_memory_usage = 100000000000",
		"CREATE TEMPORARY TABLE t (a UInt8)",
	}
	var names []string
	for _, n := range append(append([]string{}, readonly.HarmlessTableFunctions...), readonly.RemoteTableFunctions...) {
		names = append(names, "'"+n+"'")
	}
	stmts := []string{
		// Reviewed: a release that adds an allow_readonly table function
		// fails here until it is judged and listed.
		"SELECT throwIf(count() > 0, 'an allow_readonly table function is not in readonly.HarmlessTableFunctions or RemoteTableFunctions') FROM system.table_functions WHERE allow_readonly AND name NOT IN (" + strings.Join(names, ", ") + ")",
		"SET readonly = 1",
	}
	first := len(stmts)
	for _, f := range refused {
		stmts = append(stmts, "SELECT * FROM "+f)
	}
	firstAllowed := len(stmts)
	for _, f := range allowed {
		stmts = append(stmts, "SELECT * FROM "+f)
	}
	firstLift := len(stmts)
	stmts = append(stmts, lift...)

	version, errs := chdbErrors(t, stmts)
	t.Logf("ClickHouse %s (chdb)", version)
	if msg, ok := errs[0]; ok {
		t.Errorf("run SELECT name FROM system.table_functions WHERE allow_readonly on ClickHouse %s and review the new ones: %s", version, msg)
	}
	if msg, ok := errs[1]; ok {
		t.Fatalf("SET readonly = 1: %s", msg)
	}
	for i := first; i < len(stmts); i++ {
		msg, failed := errs[i]
		switch {
		case i >= firstAllowed && i < firstLift:
			if failed {
				t.Errorf("%s: refused, but it is listed harmless: %s", stmts[i], msg)
			}
		case !failed:
			t.Errorf("ran under readonly=1: %s", stmts[i])
		case !strings.Contains(msg, "READONLY"):
			t.Errorf("%s: refused for another reason than readonly=1: %s", stmts[i], msg)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("chdb fetched the URL %d times", n)
	}
}

// TestSQL parses the statements for SQL-managed readers on a current
// release and checks every setting they name exists there (a misspelt
// setting parses, then fails when the profile is applied).
func TestSQL(t *testing.T) {
	t.Parallel()
	stmts := readonly.SQL("impact")
	sqlcheck.ParseChDB(t, stmts)
	var names []string
	for _, s := range readonly.Profile() {
		names = append(names, "'"+s.Name+"'")
	}
	for _, c := range readonly.Constraints() {
		names = append(names, "'"+c.Name+"'")
	}
	check := fmt.Sprintf("SELECT throwIf(uniqExact(name) != %d, 'a setting of the read-only profile is unknown') FROM system.settings WHERE name IN (%s)",
		len(readonly.Profile())+1, strings.Join(names, ", ")) // max_execution_time is in both lists
	sqlcheck.RunChDB(t, []string{check})
	if !strings.Contains(stmts[0], "readonly = 1") || !strings.Contains(stmts[0], "max_execution_time = 120 MIN 1 MAX 120 CHANGEABLE_IN_READONLY") {
		t.Errorf("profile statement: %s", stmts[0])
	}
}
