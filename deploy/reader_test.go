package deploy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secimpact/impact/internal/readonly"
	"github.com/secimpact/impact/internal/sqlcheck"
)

// TestReaderOnCurrentClickHouse runs queries as users.d's impact_reader
// (its profile and grants, taken from the file) on a current ClickHouse
// (chdb): it reads the impact database and nothing else, no table function
// reaches a URL, a server or a file (a local HTTP server is never
// fetched), and no setting can be changed. chdb runs every query as the
// user "default", so the reader is renamed; the profile's constraints are
// left out because clickhouse-local cannot enable changeable_in_readonly
// (they only let a reader lower max_execution_time; config.d enables them
// on the server).
func TestReaderOnCurrentClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs chdb; skipped with -short")
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "top-secret")
	}))
	defer srv.Close()

	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "clickhouse", "users.d", "impact.xml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	profile := regexp.MustCompile(`(?s)<impact_reader>\s*<readonly>.*?</impact_reader>`).FindString(doc)
	if profile == "" {
		t.Fatal("users.d has no impact_reader profile")
	}
	profile = regexp.MustCompile(`(?s)\s*<constraints>.*?</constraints>`).ReplaceAllString(profile, "")
	var grants strings.Builder
	for _, g := range readUsers(t)["impact_reader"].Grants {
		fmt.Fprintf(&grants, "<query>%s</query>", g)
	}
	users := fmt.Sprintf(`<clickhouse><profiles><default/>%s</profiles>
<users><default><password></password><profile>%s</profile><quota>default</quota><grants>%s</grants></default></users>
<quotas><default/></quotas></clickhouse>`, profile, readonly.ProfileName, grants.String())

	setup := []string{
		"CREATE DATABASE impact",
		"CREATE TABLE impact.findings (id String) ENGINE = MergeTree ORDER BY id",
		"INSERT INTO impact.findings (id) VALUES ('f1')",
		"CREATE DATABASE other",
		"CREATE TABLE other.secret (s String) ENGINE = MergeTree ORDER BY s",
	}
	u := srv.URL + "/bucket/key.tsv"
	queries := []struct {
		sql  string
		want string // rows; "" means the query must be refused
		why  string // the refusal, if not READONLY or ACCESS_DENIED
	}{
		{"SELECT count() FROM impact.findings", "1\n", ""},
		{"SELECT getSetting('readonly'), getSetting('max_execution_time'), getSetting('max_result_rows'), getSetting('max_memory_usage')",
			fmt.Sprintf("1\t%d\t%d\t%d\n", int(readonly.MaxExecutionTime.Seconds()), readonly.MaxResultRows, readonly.MaxMemoryUsage), ""},
		{"SELECT count() FROM other.secret", "", ""},
		{fmt.Sprintf("SELECT * FROM url('%s', TSV, 's String')", u), "", ""},
		{fmt.Sprintf("SELECT * FROM view(SELECT * FROM url('%s', TSV, 's String'))", u), "", ""},
		{fmt.Sprintf("SELECT * FROM s3('%s', TSV, 's String')", u), "", ""},
		{"SELECT * FROM remote('127.0.0.1:9000', system.one)", "", ""},
		{"SELECT * FROM remoteSecure('127.0.0.1:9440', system.one)", "", ""},
		{"SELECT * FROM file('x.tsv', TSV, 's String')", "", ""},
		{"SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')", "", ""},
		{"SELECT * FROM postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')", "", ""},
		{"SELECT * FROM executable('x.sh', TSV, 's String')", "", ""},
		// merge sees only the tables the reader may read: none there.
		{"SELECT * FROM merge('other', '.*')", "", "(CANNOT_EXTRACT_TABLE_STRUCTURE)"},
		{"SELECT * FROM numbers(2)", "0\n1\n", ""}, // allow_readonly: computes locally
		{"SELECT 1 SETTINGS max_execution_time = 0", "", ""},
		{"SELECT 1 SETTINGS max_execution_time = 100000", "", ""},
		{"SELECT 1 SETTINGS readonly = 0", "", ""},
		{"SELECT 1 SETTINGS max_result_rows = 0", "", ""},
		{"SET max_memory_usage = 0", "", ""},
		{"CREATE TEMPORARY TABLE t (a UInt8)", "", ""},
		{"INSERT INTO impact.findings (id) VALUES ('f2')", "", ""},
		{"DROP TABLE impact.findings", "", ""},
	}
	var qs []string
	for _, q := range queries {
		qs = append(qs, q.sql)
	}
	res, answers, err := sqlcheck.RunAs(context.Background(), setup, users, qs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("impact_reader on ClickHouse %s (chdb)", res.Version)
	for i, q := range queries {
		a := answers[i]
		switch {
		case q.want == "" && a.OK:
			t.Errorf("ran as impact_reader: %s -> %q", q.sql, a.Rows)
		case q.want == "" && q.why != "" && !strings.Contains(a.Error, q.why):
			t.Errorf("%s: refused for another reason than %s: %s", q.sql, q.why, a.Error)
		case q.want == "" && q.why == "" && !strings.Contains(a.Error, "(READONLY)") && !strings.Contains(a.Error, "(ACCESS_DENIED)"):
			t.Errorf("%s: refused for another reason than the profile or the grants: %s", q.sql, a.Error)
		case q.want != "" && (!a.OK || a.Rows != q.want):
			t.Errorf("%s: got %q (%s), want %q", q.sql, a.Rows, a.Error, q.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server fetched the URL %d times", n)
	}
}
