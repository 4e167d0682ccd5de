package dashboards

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Datasource describes the ClickHouse data source Grafana queries. The zero
// value is the docker-compose setup: host clickhouse, native port 9000,
// read-only user impact_reader, database impact.
type Datasource struct {
	UID      string // default "impact-clickhouse"
	Name     string // default "ClickHouse (impact)"
	Host     string // default "clickhouse"
	Port     int    // default 9000 (9440 when Secure)
	User     string // default "impact_reader"
	Database string // default "impact"
	Secure   bool   // TLS to ClickHouse
	// Password of User, sent by impact provision in secureJsonData; never
	// logged. Default from $IMPACT_CLICKHOUSE_READER_PASSWORD.
	Password string
	// CredentialVersion identifies Password without revealing it (a
	// department reader's rotation time, access.Credential.Version). When
	// set it is stored in jsonData, so a rotated password makes the data
	// source differ and provisioning sends the new one; Grafana never
	// returns stored secrets to compare.
	CredentialVersion string
}

// ReaderPasswordEnv holds the read-only ClickHouse user's password for
// impact provision.
const ReaderPasswordEnv = "IMPACT_CLICKHOUSE_READER_PASSWORD"

func (d Datasource) withDefaults() Datasource {
	if d.UID == "" {
		d.UID = "impact-clickhouse"
	}
	if d.Name == "" {
		d.Name = "ClickHouse (impact)"
	}
	if d.Host == "" {
		d.Host = "clickhouse"
	}
	if d.Port == 0 {
		d.Port = 9000
		if d.Secure {
			d.Port = 9440
		}
	}
	if d.User == "" {
		d.User = "impact_reader"
	}
	if d.Database == "" {
		d.Database = "impact"
	}
	return d
}

// QueryTimeout is the data source's query timeout. The plugin makes it the
// deadline of each query's context, and clickhouse-go then sends
// max_execution_time = the time left + 5 s, which the read-only profile
// accepts only up to readonly.MaxExecutionTime: keep the two apart by more
// than 5 s. No customSettings are provisioned: readonly=1 would refuse
// them.
const QueryTimeout = 60 * time.Second

// jsonData returns the plugin v4 jsonData (src/types/config.ts CHConfig).
func (d Datasource) jsonData() map[string]any {
	d = d.withDefaults()
	m := map[string]any{
		"host":            d.Host,
		"port":            d.Port,
		"protocol":        "native",
		"secure":          d.Secure,
		"username":        d.User,
		"defaultDatabase": d.Database,
		"queryTimeout":    strconv.Itoa(int(QueryTimeout.Seconds())),
	}
	if d.CredentialVersion != "" {
		m[credentialVersionKey] = d.CredentialVersion
	}
	return m
}

// credentialVersionKey is the jsonData key of Datasource.CredentialVersion.
const credentialVersionKey = "impactCredentialVersion"

// ExportOptions configures Export. The zero value fits docker-compose.
type ExportOptions struct {
	// DashboardsPath is where Grafana sees DIR/dashboards/json; default
	// /etc/grafana/provisioning/dashboards/json (DIR mounted as Grafana's
	// provisioning directory).
	DashboardsPath string
	// Port and Secure of the provisioned data source; host, user, password
	// and database come from Grafana's environment (GrafanaEnv).
	Port   int // default 9000
	Secure bool
}

// DefaultDashboardsPath is the container path of DIR/dashboards/json when
// DIR is mounted at /etc/grafana/provisioning.
const DefaultDashboardsPath = "/etc/grafana/provisioning/dashboards/json"

// GrafanaEnv lists the environment variables the exported data source file
// refers to; Grafana expands them when it reads the provisioning files, so
// no secret is ever written into the repository.
var GrafanaEnv = []string{"IMPACT_CLICKHOUSE_HOST", "IMPACT_CLICKHOUSE_USER", "IMPACT_CLICKHOUSE_PASSWORD", "IMPACT_CLICKHOUSE_DATABASE"}

// Export writes Grafana's provisioning directory: dir/datasources/clickhouse.yaml,
// dir/dashboards/impact.yaml (a file provider) and
// dir/dashboards/json/<uid>.json for every dashboard. It returns the files
// written, relative to dir.
func Export(dir string, opts ExportOptions) ([]string, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	files, err := Files(opts)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("export %s: %w", f.Name, err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return nil, fmt.Errorf("export %s: %w", f.Name, err)
		}
		names = append(names, f.Name)
	}
	return names, nil
}

// File is one exported file: its path relative to the export directory and
// its content.
type File struct {
	Name string
	Data []byte
}

// Files returns what Export writes, without touching the disk (for golden
// tests and for checking committed output).
func Files(opts ExportOptions) ([]File, error) {
	var files []File
	for _, d := range All() {
		b, err := d.JSON()
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: filepath.Join("dashboards", "json", d.UID+".json"), Data: b})
	}
	path := opts.DashboardsPath
	if path == "" {
		path = DefaultDashboardsPath
	}
	dashYAML, err := marshalYAML(map[string]any{
		"apiVersion": 1,
		"providers": []map[string]any{{
			"name":                  "impact",
			"orgId":                 1,
			"folder":                FolderTitle,
			"folderUid":             FolderUID,
			"type":                  "file",
			"disableDeletion":       false,
			"allowUiUpdates":        false,
			"updateIntervalSeconds": 60,
			"options":               map[string]any{"path": path, "foldersFromFilesStructure": false},
		}},
	})
	if err != nil {
		return nil, err
	}
	ds := Datasource{
		Host:     "${IMPACT_CLICKHOUSE_HOST}",
		User:     "${IMPACT_CLICKHOUSE_USER}",
		Database: "${IMPACT_CLICKHOUSE_DATABASE}",
		Port:     opts.Port,
		Secure:   opts.Secure,
	}.withDefaults()
	dsYAML, err := marshalYAML(map[string]any{
		"apiVersion": 1,
		"datasources": []map[string]any{{
			"name":           ds.Name,
			"uid":            ds.UID,
			"type":           PluginID,
			"access":         "proxy",
			"orgId":          1,
			"isDefault":      true,
			"editable":       false,
			"jsonData":       ds.jsonData(),
			"secureJsonData": map[string]any{"password": "${IMPACT_CLICKHOUSE_PASSWORD}"},
		}},
	})
	if err != nil {
		return nil, err
	}
	files = append(files,
		File{Name: filepath.Join("dashboards", "impact.yaml"), Data: dashYAML},
		File{Name: filepath.Join("datasources", "clickhouse.yaml"), Data: dsYAML},
	)
	return files, nil
}

func marshalYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Generated by `impact dashboards export`; do not edit.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode provisioning yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode provisioning yaml: %w", err)
	}
	return buf.Bytes(), nil
}
