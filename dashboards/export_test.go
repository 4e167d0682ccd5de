package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/internal/readonly"
)

// committedDir is the export docker-compose mounts into Grafana.
const committedDir = "provisioning"

// TestCommittedExportCurrent fails when the committed provisioning output
// drifts from the builders; `go test ./dashboards -update` rewrites it.
func TestCommittedExportCurrent(t *testing.T) {
	files, err := Files(ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, f := range files {
		want[f.Name] = f.Data
	}
	// Stale files would still be provisioned by Grafana: CheckDir reports them.
	golden.CheckDir(t, committedDir, want, nil)
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
