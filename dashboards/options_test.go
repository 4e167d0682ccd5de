package dashboards

import (
	"context"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/config"
)

// TestOptionsValidate: zero values are the defaults; a bad value is an
// error naming its field, found before anything is sent or written.
func TestOptionsValidate(t *testing.T) {
	dept := func(name string) Department {
		return Department{Name: name, Reader: Datasource{User: "u", Database: "d", Password: "p", CredentialVersion: "v"}}
	}
	bad := dept("Sales")
	bad.Reader.Port = 70000
	tests := []struct {
		name    string
		v       interface{ Validate() error }
		wantErr string
	}{
		{"export zero", ExportOptions{}, ""},
		{"export set", ExportOptions{Port: 9440, Secure: true, DashboardsPath: "/x"}, ""},
		{"export negative port", ExportOptions{Port: -1}, "Port -1 is not a TCP port"},
		{"export relative path", ExportOptions{DashboardsPath: "dashboards/json"}, "DashboardsPath \"dashboards/json\" is not an absolute path"},
		{"provision zero", ProvisionOptions{}, ""},
		{"provision departments", ProvisionOptions{Departments: []Department{dept("Sales"), dept("R&D")}}, ""},
		{"datasource port", ProvisionOptions{Datasource: Datasource{Port: 65536}}, "Port 65536 is not a TCP port"},
		{"datasource uid", ProvisionOptions{Datasource: Datasource{UID: "has space"}}, "UID \"has space\""},
		{"department without reader", ProvisionOptions{Departments: []Department{{Name: "Sales"}}}, "Departments[0]: department \"Sales\": Reader.User"},
		{"department reader port", ProvisionOptions{Departments: []Department{dept("R&D"), bad}}, "Departments[1] (Sales): Reader: datasource: Port 70000"},
		{"similar names", ProvisionOptions{Departments: []Department{dept("R&D"), dept("r-d")}}, ""},
		{"listed twice", ProvisionOptions{Departments: []Department{dept("R&D"), dept("Sales"), dept("R&D")}}, "Departments[2]: \"R&D\" is listed twice"},
		{"alerting", ProvisionOptions{Alerting: &Alerting{}}, "alerting: ciso needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q (\"\": valid)", err, tt.wantErr)
			}
			if tt.wantErr == "" {
				return
			}
		})
	}
	// Provision and Export refuse before any request or file.
	if _, err := Provision(context.Background(), config.Grafana{URL: "http://127.0.0.1:1"}, ProvisionOptions{Datasource: Datasource{Port: -5}}); err == nil || !strings.Contains(err.Error(), "Port -5") {
		t.Errorf("Provision = %v", err)
	}
	dir := t.TempDir()
	if _, err := Export(dir, ExportOptions{Port: 1 << 20}); err == nil || !strings.Contains(err.Error(), "Port") {
		t.Errorf("Export = %v", err)
	}
}
