package dashboards

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/readonly"
)

var update = flag.Bool("update", false, "rewrite golden files and the committed provisioning output")

// committedDir is the export docker-compose mounts into Grafana.
const committedDir = "provisioning"

// TestCommittedExportCurrent fails when the committed provisioning output
// drifts from the builders; `go test ./dashboards -update` rewrites it.
func TestCommittedExportCurrent(t *testing.T) {
	files, err := Files(ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(committedDir); err != nil {
			t.Fatal(err)
		}
		if _, err := Export(committedDir, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, f := range files {
		want[filepath.ToSlash(f.Name)] = true
		got, err := os.ReadFile(filepath.Join(committedDir, f.Name))
		if err != nil {
			t.Errorf("%s: %v (run go test ./dashboards -update)", f.Name, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s differs from the builders (run go test ./dashboards -update)", f.Name)
		}
	}
	// Stale files would still be provisioned by Grafana.
	err = filepath.WalkDir(committedDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(committedDir, p)
		if !want[filepath.ToSlash(rel)] {
			t.Errorf("%s is committed but no longer exported", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExportWritesLayout(t *testing.T) {
	dir := t.TempDir()
	names, err := Export(dir, ExportOptions{Port: 9440, Secure: true, DashboardsPath: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(All())+2 {
		t.Fatalf("wrote %d files, want %d", len(names), len(All())+2)
	}
	tests := []struct{ file, want string }{
		{"datasources/clickhouse.yaml", "port: 9440"},
		{"datasources/clickhouse.yaml", "secure: true"},
		{"datasources/clickhouse.yaml", "password: ${IMPACT_CLICKHOUSE_PASSWORD}"},
		{"datasources/clickhouse.yaml", "protocol: native"},
		{"datasources/clickhouse.yaml", "type: grafana-clickhouse-datasource"},
		{"dashboards/impact.yaml", "path: /x"},
		{"dashboards/json/impact-ciso.json", `"uid": "impact-ciso"`},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(tt.want)) {
			t.Errorf("%s lacks %q", tt.file, tt.want)
		}
	}
}

// TestDatasourceFitsReaderProfile: the plugin's query timeout becomes
// clickhouse-go's max_execution_time (time left + 5 s), which the
// read-only profile accepts only up to readonly.MaxExecutionTime on
// current releases; and no custom settings, which readonly=1 refuses.
func TestDatasourceFitsReaderProfile(t *testing.T) {
	if QueryTimeout+5*time.Second >= readonly.MaxExecutionTime {
		t.Errorf("QueryTimeout %s + 5s reaches the reader profile's max_execution_time %s: every panel would be refused", QueryTimeout, readonly.MaxExecutionTime)
	}
	jd := Datasource{}.jsonData()
	if jd["queryTimeout"] != "60" {
		t.Errorf("jsonData.queryTimeout = %v", jd["queryTimeout"])
	}
	for _, k := range []string{"customSettings", "enableRowLimit"} {
		if _, ok := jd[k]; ok {
			t.Errorf("jsonData.%s is set: readonly=1 refuses settings the profile does not allow", k)
		}
	}
}
