package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/config"
)

// teamAPI implements Grafana's Team HTTP API as documented for 12.x
// (docs/sources/developer-resources/api-reference/http-api/api-legacy/team.md):
// search by exact name (404 when there is none), create with a unique
// name (409 when taken).
func (f *fakeGrafana) teamAPI(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	switch {
	case r.Method == http.MethodGet && path == "/api/teams/search":
		name := r.URL.Query().Get("name")
		if name == "" {
			f.violate("GET /api/teams/search without name: provisioning must match teams by exact name")
		}
		id, ok := f.teams[name]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "Team not found"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"totalCount": 1, "page": 1, "perPage": 1000, "teams": []map[string]any{
			{"id": id, "orgId": 1, "name": name, "email": "", "avatarUrl": "/avatar/x", "memberCount": 0}}})
	case r.Method == http.MethodPost && path == "/api/teams":
		name, _ := body["name"].(string)
		if name == "" {
			f.violate("POST /api/teams: name is required")
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
		for k := range body {
			if k != "name" && k != "email" {
				f.violate("POST /api/teams: undocumented field %q", k)
			}
		}
		if _, taken := f.teams[name]; taken {
			reply(w, http.StatusConflict, map[string]any{"message": "Team name taken"})
			return
		}
		f.teams[name] = int64(f.nextID)
		f.nextID++
		reply(w, http.StatusOK, map[string]any{"message": "Team created", "teamId": f.teams[name], "uid": fmt.Sprintf("team%d", f.teams[name])})
	default:
		f.violate("undocumented request %s %s", r.Method, path)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

// folderPermissions implements GET and POST /api/folders/:uid/permissions
// (folder_permissions.md): the POST replaces every permission with items,
// each naming exactly one of a team, a user or the role Viewer or Editor,
// at level 1, 2 or 4.
func (f *fakeGrafana) folderPermissions(w http.ResponseWriter, r *http.Request, uid string, body map[string]any) {
	fo, ok := f.folders[uid]
	if !ok {
		reply(w, http.StatusNotFound, map[string]any{"message": "Folder not found"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		var out []map[string]any
		for i, p := range f.folderPerm[uid] {
			item := map[string]any{"id": i + 1, "folderId": fo["id"], "uid": uid, "title": fo["title"], "userId": 0, "teamId": 0,
				"role": "", "team": "", "userLogin": "", "isFolder": true, "inherited": false, "permissionName": map[int]string{1: "View", 2: "Edit", 4: "Admin"}[p["permission"].(int)]}
			for k, v := range p {
				item[k] = v
			}
			out = append(out, item)
		}
		reply(w, http.StatusOK, out)
	case http.MethodPost:
		items, ok := body["items"].([]any)
		if !ok {
			f.violate("POST folder permissions: no items list")
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
		var stored []map[string]any
		for _, it := range items {
			m, _ := it.(map[string]any)
			perm, _ := m["permission"].(float64)
			if perm != 1 && perm != 2 && perm != 4 {
				f.violate("POST folder permissions: permission %v is not 1, 2 or 4", m["permission"])
			}
			p := map[string]any{"permission": int(perm)}
			n := 0
			if id, ok := m["teamId"].(float64); ok {
				n++
				known := false
				for _, tid := range f.teams {
					known = known || float64(tid) == id
				}
				if !known {
					reply(w, http.StatusBadRequest, map[string]any{"message": "team not found"})
					return
				}
				p["teamId"] = int64(id)
			}
			if id, ok := m["userId"].(float64); ok {
				n++
				p["userId"] = int(id)
			}
			if role, ok := m["role"].(string); ok {
				n++
				if role != "Viewer" && role != "Editor" {
					f.violate("POST folder permissions: role %q (only Viewer or Editor; Admins always have access)", role)
				}
				p["role"] = role
			}
			if n != 1 {
				f.violate("POST folder permissions: item %v names %d of teamId, userId, role", m, n)
			}
			stored = append(stored, p)
		}
		f.folderPerm[uid] = stored
		reply(w, http.StatusOK, map[string]any{"message": "Folder permissions updated", "id": fo["id"], "title": fo["title"]})
	default:
		f.violate("undocumented request %s /api/folders/%s/permissions", r.Method, uid)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

// permSet is a folder's permissions as sorted "team:NAME=1" / "role:Viewer=1" strings.
func (f *fakeGrafana) permSet(uid string) string {
	byID := map[int64]string{}
	for n, id := range f.teams {
		byID[id] = n
	}
	var out []string
	for _, p := range f.folderPerm[uid] {
		switch {
		case p["teamId"] != nil:
			out = append(out, fmt.Sprintf("team:%s=%d", byID[p["teamId"].(int64)], p["permission"]))
		case p["role"] != nil:
			out = append(out, fmt.Sprintf("role:%s=%d", p["role"], p["permission"]))
		default:
			out = append(out, fmt.Sprintf("user:%v=%d", p["userId"], p["permission"]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func testDepartments(version string) []Department {
	var out []Department
	for _, name := range []string{"Engineering", "R&D's lab"} {
		out = append(out, Department{Name: name, Reader: Datasource{
			User: "impact_dept_" + strings.ToLower(name[:3]), Database: "impact_dept_" + strings.ToLower(name[:3]),
			Password: "pw-" + name + "-" + version, CredentialVersion: version,
		}})
	}
	return out
}

func TestProvisionDepartments(t *testing.T) {
	fake, srv := newFakeGrafana(t, "Bearer "+testToken)
	g := config.Grafana{URL: srv.URL, Token: testToken}
	ctx := context.Background()
	opts := ProvisionOptions{Datasource: Datasource{Host: "ch.internal", Password: testDSSecret}, Departments: testDepartments("1")}

	res, err := Provision(ctx, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != Created && !(r.Kind == "permissions" && r.Action == Updated) {
			t.Errorf("first run: %s %s %s", r.Kind, r.UID, r.Action)
		}
	}
	var want []string
	want = append(want, "POST /api/datasources", "POST /api/folders")
	for range All() {
		want = append(want, "POST /api/dashboards/db")
	}
	want = append(want, "POST /api/teams", "POST /api/folders/impact/permissions")
	for _, d := range opts.Departments {
		want = append(want, "POST /api/teams", "POST /api/folders", "POST /api/folders/"+d.FolderUID()+"/permissions",
			"POST /api/datasources", "POST /api/dashboards/db")
	}
	if got := fake.writes(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("first run writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The cross-department folder: the CISO's team alone (Admins always).
	if got := fake.permSet(FolderUID); got != "team:impact: CISO=1" {
		t.Errorf("impact folder permissions %s", got)
	}
	for _, d := range opts.Departments {
		if got, want := fake.permSet(d.FolderUID()), "team:impact: CISO=1,team:"+d.TeamName()+"=1"; got != want {
			t.Errorf("%s folder permissions %s, want %s", d.Name, got, want)
		}
		ds := fake.ds[d.DatasourceUID()]
		jd := ds["jsonData"].(map[string]any)
		if jd["username"] != d.Reader.User || jd["defaultDatabase"] != d.Reader.Database || jd["host"] != "ch.internal" ||
			jd[credentialVersionKey] != "1" || fake.dsSecret[d.DatasourceUID()] != d.Reader.Password {
			t.Errorf("%s data source: %v (password sent: %v)", d.Name, jd, fake.dsSecret[d.DatasourceUID()] == d.Reader.Password)
		}
		if fake.dashFolder[d.DashboardUID()] != d.FolderUID() {
			t.Errorf("%s dashboard in folder %q", d.Name, fake.dashFolder[d.DashboardUID()])
		}
		b, _ := json.Marshal(fake.dash[d.DashboardUID()])
		for _, p := range Lint(b) {
			t.Errorf("%s dashboard: %s", d.Name, p)
		}
		checkPinned(t, fake.dash[d.DashboardUID()], d)
	}

	// Second run: no writes.
	fake.log = nil
	if res, err = Provision(ctx, g, opts); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != Unchanged {
			t.Errorf("second run: %s %s %s", r.Kind, r.UID, r.Action)
		}
	}
	if w := fake.writes(); len(w) != 0 {
		t.Errorf("second run wrote: %v", w)
	}

	// Drift (someone opened a department folder to every Viewer) is
	// repaired; a rotated password is sent again, and only that.
	d0 := opts.Departments[0]
	fake.folderPerm[d0.FolderUID()] = append(fake.folderPerm[d0.FolderUID()], map[string]any{"role": "Viewer", "permission": 1})
	opts.Departments = testDepartments("2")
	opts.Departments[1].Reader.Password, opts.Departments[1].Reader.CredentialVersion = "pw-R&D's lab-1", "1"
	fake.log = nil
	if _, err = Provision(ctx, g, opts); err != nil {
		t.Fatal(err)
	}
	want = []string{"POST /api/folders/" + d0.FolderUID() + "/permissions", "PUT /api/datasources/uid/" + d0.DatasourceUID()}
	if got := fake.writes(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("drift and rotation writes %v, want %v", got, want)
	}
	if fake.dsSecret[d0.DatasourceUID()] != "pw-Engineering-2" {
		t.Errorf("rotated password not sent")
	}
	if got := fake.permSet(d0.FolderUID()); strings.Contains(got, "role:") {
		t.Errorf("drifted permissions kept: %s", got)
	}

	// A department without its reader's credential is refused before any write.
	bad := opts
	bad.Departments = []Department{{Name: "Sales", Reader: Datasource{User: "impact_dept_sales", Database: "impact_dept_sales"}}}
	if _, err := Provision(ctx, g, bad); err == nil || !strings.Contains(err.Error(), "Password") {
		t.Errorf("department without a password: %v", err)
	}
}

// checkPinned checks a department dashboard as stored: the department a
// hidden constant holding the name, the data source variable hidden,
// limited to the department's data source and set to it.
func checkPinned(t *testing.T, model map[string]any, d Department) {
	t.Helper()
	b, _ := json.Marshal(model)
	var m struct {
		Templating struct {
			List []struct {
				Type    string `json:"type"`
				Name    string `json:"name"`
				Query   any    `json:"query"`
				Hide    int    `json:"hide"`
				Regex   string `json:"regex"`
				Current struct {
					Value any `json:"value"`
				} `json:"current"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, v := range m.Templating.List {
		switch v.Name {
		case "department":
			seen++
			if v.Type != "constant" || v.Query != d.Name {
				t.Errorf("%s: department variable %s %v, want a constant %q", d.Name, v.Type, v.Query, d.Name)
			}
		case "datasource":
			seen++
			if v.Hide != 2 || v.Current.Value != d.DatasourceUID() || !strings.Contains(v.Regex, strconv.Quote(d.DatasourceName())[1:4]) {
				t.Errorf("%s: datasource variable hide %d, current %v, regex %q", d.Name, v.Hide, v.Current.Value, v.Regex)
			}
		}
	}
	if seen != 2 {
		t.Errorf("%s: department and datasource variables not both found", d.Name)
	}
}
