package dashboards

import (
	"fmt"
	"path"
	"regexp"
)

// uidRE is what Grafana accepts as a uid: at most 40 letters, digits,
// hyphens and underscores.
var uidRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Validate names the first bad field. Zero values are the defaults.
func (d Datasource) Validate() error {
	switch {
	case d.Port < 0 || d.Port > 65535:
		return fmt.Errorf("datasource: Port %d is not a TCP port", d.Port)
	case d.UID != "" && !uidRE.MatchString(d.UID):
		return fmt.Errorf("datasource: UID %q is not a Grafana uid (at most 40 letters, digits, - and _)", d.UID)
	}
	return nil
}

// Validate names the first bad field. Zero values are the defaults.
func (o ExportOptions) Validate() error {
	switch {
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("export options: Port %d is not a TCP port", o.Port)
	case o.DashboardsPath != "" && !path.IsAbs(o.DashboardsPath):
		return fmt.Errorf("export options: DashboardsPath %q is not an absolute path (Grafana's container path of DIR/dashboards/json)", o.DashboardsPath)
	}
	return nil
}

// Validate names the first bad field, before Provision sends anything, so
// a bad department or alerting setting does not leave Grafana half
// provisioned. Zero values are the defaults.
func (o ProvisionOptions) Validate() error {
	if err := o.Datasource.Validate(); err != nil {
		return fmt.Errorf("provision options: %w", err)
	}
	seen := map[string]bool{}
	for i, d := range o.Departments {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("provision options: Departments[%d]: %w", i, err)
		}
		if err := d.Reader.Validate(); err != nil {
			return fmt.Errorf("provision options: Departments[%d] (%s): Reader: %w", i, d.Name, err)
		}
		if seen[d.Name] {
			return fmt.Errorf("provision options: Departments[%d]: %q is listed twice", i, d.Name)
		}
		seen[d.Name] = true
	}
	if o.Alerting != nil {
		if err := o.Alerting.Validate(); err != nil {
			return fmt.Errorf("provision options: %w", err)
		}
	}
	return nil
}
