package dashboards

import (
	"errors"
	"fmt"

	deptname "github.com/secimpact/impact/internal/department"
)

// Department is what Grafana gets for one department: a team, a folder
// only that team sees, a data source that connects as the department's
// read-only ClickHouse user (impact access), and the department's own
// dashboard in the folder, pinned to that data source, with the
// department fixed.
type Department struct {
	Name string // the department, exactly as the analyst tables carry it
	// Reader is the department's ClickHouse reader: User, Database,
	// Password and CredentialVersion are required; the rest (host, port,
	// TLS) defaults to the cross-department data source's.
	Reader Datasource
}

// Validate names the first missing field.
func (d Department) Validate() error {
	switch {
	case d.Name == "":
		return errors.New("department: Name is required")
	case d.Reader.User == "" || d.Reader.Database == "":
		return fmt.Errorf("department %q: Reader.User and Reader.Database are required (impact access creates them)", d.Name)
	case d.Reader.Password == "" || d.Reader.CredentialVersion == "":
		return fmt.Errorf("department %q: Reader.Password and Reader.CredentialVersion are required (from the secrets file of impact access)", d.Name)
	}
	return nil
}

// The uids and names of a department's Grafana objects; uids are at most
// 40 characters (department.Slug keeps them short).
func (d Department) slug() string { return deptname.Slug(d.Name) }

// DashboardUID is the uid of the department's own dashboard.
func (d Department) DashboardUID() string { return "impact-dept-" + d.slug() }

// FolderUID is the uid of the department's folder.
func (d Department) FolderUID() string { return "impact-dept-" + d.slug() }

// DatasourceUID is the uid of the department's data source.
func (d Department) DatasourceUID() string { return "impact-ch-" + d.slug() }

// TeamName is the name of the department's Grafana team.
func (d Department) TeamName() string { return "impact: " + d.Name }

// FolderTitle is the title of the department's folder.
func (d Department) FolderTitle() string { return "impact: " + d.Name }

// DatasourceName is the name of the department's data source.
func (d Department) DatasourceName() string { return "ClickHouse (impact: " + d.Name + ")" }

// datasource is the department's data source: the reader's user,
// database and credential on the cross-department data source's server.
func (d Department) datasource(shared Datasource) Datasource {
	ds := shared.withDefaults()
	r := d.Reader
	ds.UID, ds.Name = d.DatasourceUID(), d.DatasourceName()
	ds.User, ds.Database, ds.Password, ds.CredentialVersion = r.User, r.Database, r.Password, r.CredentialVersion
	if r.Host != "" {
		ds.Host, ds.Port, ds.Secure = r.Host, r.Port, r.Secure
		ds = ds.withDefaults()
	}
	return ds
}

// Dashboard is the department's own scorecard: the department
// dashboard's panels, with the department a hidden constant (not a free
// dropdown) and the data source pinned to the department's reader, whose
// database holds only the department's rows anyway.
func (d Department) Dashboard() Dashboard {
	db := department()
	db.UID = d.DashboardUID()
	db.Title = "impact: " + d.Name + " scorecard"
	db.Description = "The security KPIs of " + d.Name + " beside its delivery KPIs, read through the department's own ClickHouse user."
	vars := make([]Variable, len(db.Variables))
	copy(vars, db.Variables)
	for i := range vars {
		if vars[i].Name == "department" {
			vars[i].Constant = d.Name
		}
	}
	db.Variables = vars
	db.Datasource = &DatasourceRef{UID: d.DatasourceUID(), Name: d.DatasourceName()}
	return db
}
