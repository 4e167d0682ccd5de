package dashboards

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/secimpact/impact/internal/config"
)

// fakeGrafana implements the parts of Grafana's documented HTTP API that
// provisioning uses (datasources, folders, dashboards, plugin settings; see
// https://grafana.com/docs/grafana/latest/developers/http_api/) and records
// every request. Requests that break the documented contract are recorded as
// violations and fail the test.
type fakeGrafana struct {
	t          *testing.T
	auth       string // the exact Authorization header accepted
	plugin     bool   // grafana-clickhouse-datasource installed
	forbidDS   bool   // answer 403 on datasource writes (Viewer/Editor token)
	mu         sync.Mutex
	nextID     int
	log        []string
	violations []string
	ds         map[string]map[string]any
	dsSecret   map[string]string
	folders    map[string]map[string]any
	dash       map[string]map[string]any // uid -> dashboard model
	dashFolder map[string]string
	teams      map[string]int64            // name -> id
	folderPerm map[string][]map[string]any // folder uid -> permission items as stored
	alerting   *fakeAlerting
}

func newFakeGrafana(t *testing.T, auth string) (*fakeGrafana, *httptest.Server) {
	f := &fakeGrafana{t: t, auth: auth, plugin: true, nextID: 1,
		ds: map[string]map[string]any{}, dsSecret: map[string]string{}, folders: map[string]map[string]any{},
		dash: map[string]map[string]any{}, dashFolder: map[string]string{},
		teams: map[string]int64{}, folderPerm: map[string][]map[string]any{}, alerting: newFakeAlerting()}
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		for _, v := range f.violations {
			t.Errorf("API contract violation: %s", v)
		}
	})
	return f, srv
}

func (f *fakeGrafana) violate(format string, args ...any) {
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeGrafana) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.log {
		if !strings.HasPrefix(l, "GET ") {
			out = append(out, l)
		}
	}
	return out
}

func (f *fakeGrafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != f.auth {
		reply(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			f.violate("%s %s: Content-Type %q, want application/json", r.Method, r.URL.Path, ct)
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			f.violate("%s %s: body is not a JSON object: %v", r.Method, r.URL.Path, err)
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
	}
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == "/api/plugins/"+PluginID+"/settings":
		if !f.plugin {
			reply(w, http.StatusNotFound, map[string]any{"message": "Plugin not found, no installed plugin with that id"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"id": PluginID, "type": "datasource", "name": "ClickHouse", "enabled": true})

	case strings.HasPrefix(path, "/api/datasources"):
		f.datasources(w, r, path, body)
	case strings.HasPrefix(path, "/api/teams"):
		f.teamAPI(w, r, path, body)
	case strings.HasPrefix(path, "/api/folders/") && strings.HasSuffix(path, "/permissions"):
		f.folderPermissions(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/api/folders/"), "/permissions"), body)
	case strings.HasPrefix(path, "/api/v1/provisioning/"):
		f.alertingAPI(w, r, path, body)
	case strings.HasPrefix(path, "/api/folders"):
		f.folderAPI(w, r, path, body)
	case strings.HasPrefix(path, "/api/dashboards"):
		f.dashboards(w, r, path, body)
	default:
		f.violate("undocumented request %s %s", r.Method, path)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

func (f *fakeGrafana) checkDatasourceBody(method string, body map[string]any) bool {
	ok := true
	for _, k := range []string{"name", "type", "access"} {
		if s, _ := body[k].(string); s == "" {
			f.violate("%s datasource: %q missing", method, k)
			ok = false
		}
	}
	if body["type"] != PluginID {
		f.violate("%s datasource: type %v", method, body["type"])
	}
	jd, _ := body["jsonData"].(map[string]any)
	for _, k := range []string{"host", "username", "defaultDatabase"} {
		if s, _ := jd[k].(string); s == "" {
			f.violate("%s datasource: jsonData.%s missing", method, k)
		}
	}
	if _, isNum := jd["port"].(float64); !isNum {
		f.violate("%s datasource: jsonData.port %v is not a number", method, jd["port"])
	}
	if jd["protocol"] != "native" {
		f.violate("%s datasource: jsonData.protocol %v, want native", method, jd["protocol"])
	}
	if _, leaked := jd["password"]; leaked {
		f.violate("%s datasource: password in jsonData (must be secureJsonData)", method)
	}
	return ok
}

func (f *fakeGrafana) datasources(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	uid, isUID := strings.CutPrefix(path, "/api/datasources/uid/")
	switch {
	case r.Method == http.MethodGet && isUID:
		d, ok := f.ds[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "Data source not found"})
			return
		}
		reply(w, http.StatusOK, d)
	case r.Method == http.MethodPost && path == "/api/datasources":
		if f.forbidDS {
			reply(w, http.StatusForbidden, map[string]any{"message": "You'll need additional permissions to perform this action. Permissions needed: datasources:create"})
			return
		}
		if !f.checkDatasourceBody("POST", body) {
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
		if _, has := body["id"]; has {
			f.violate("POST datasource: id set on create")
		}
		uid, _ := body["uid"].(string)
		if _, exists := f.ds[uid]; exists {
			reply(w, http.StatusConflict, map[string]any{"message": "data source with the same uid already exists"})
			return
		}
		f.storeDS(uid, body, 1)
		reply(w, http.StatusOK, map[string]any{"datasource": f.ds[uid], "id": f.ds[uid]["id"], "message": "Datasource added", "name": body["name"]})
	case r.Method == http.MethodPut && isUID:
		if f.forbidDS {
			reply(w, http.StatusForbidden, map[string]any{"message": "You'll need additional permissions to perform this action. Permissions needed: datasources:write"})
			return
		}
		old, ok := f.ds[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "Data source not found"})
			return
		}
		if !f.checkDatasourceBody("PUT", body) {
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
		if body["uid"] != uid {
			f.violate("PUT datasource %s: body uid %v", uid, body["uid"])
		}
		f.storeDS(uid, body, old["version"].(int)+1)
		f.ds[uid]["id"] = old["id"]
		reply(w, http.StatusOK, map[string]any{"datasource": f.ds[uid], "id": old["id"], "message": "Datasource updated", "name": body["name"]})
	default:
		f.violate("undocumented request %s %s", r.Method, path)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

// storeDS keeps a data source as Grafana returns it: secrets become
// secureJsonFields flags and are never sent back.
func (f *fakeGrafana) storeDS(uid string, body map[string]any, version int) {
	d := map[string]any{}
	for k, v := range body {
		if k != "secureJsonData" {
			d[k] = v
		}
	}
	if sj, ok := body["secureJsonData"].(map[string]any); ok {
		if p, ok := sj["password"].(string); ok {
			f.dsSecret[uid] = p
		}
	}
	d["id"] = f.nextID
	f.nextID++
	d["uid"] = uid
	d["orgId"] = 1
	d["url"] = ""
	d["readOnly"] = false
	d["version"] = version
	d["secureJsonFields"] = map[string]any{"password": f.dsSecret[uid] != ""}
	f.ds[uid] = d
}

func (f *fakeGrafana) folderAPI(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	uid, _ := strings.CutPrefix(path, "/api/folders/")
	switch {
	case r.Method == http.MethodGet && uid != "":
		fo, ok := f.folders[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "folder not found", "status": "not-found"})
			return
		}
		reply(w, http.StatusOK, fo)
	case r.Method == http.MethodPost && path == "/api/folders":
		title, _ := body["title"].(string)
		uid, _ := body["uid"].(string)
		if title == "" {
			f.violate("POST folder: title missing")
		}
		if _, exists := f.folders[uid]; exists {
			reply(w, http.StatusConflict, map[string]any{"message": "a folder with the same uid already exists"})
			return
		}
		f.folders[uid] = map[string]any{"id": f.nextID, "uid": uid, "title": title, "url": "/dashboards/f/" + uid, "version": 1}
		f.nextID++
		// A new folder gets Grafana's defaults: Editors edit, Viewers
		// view, and its creator administers it.
		f.folderPerm[uid] = []map[string]any{
			{"role": "Viewer", "permission": 1}, {"role": "Editor", "permission": 2}, {"userId": 1, "permission": 4},
		}
		reply(w, http.StatusOK, f.folders[uid])
	case r.Method == http.MethodPut && uid != "":
		fo, ok := f.folders[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "folder not found"})
			return
		}
		if _, hasV := body["version"]; !hasV && body["overwrite"] != true {
			f.violate("PUT folder: neither version nor overwrite")
		}
		fo["title"] = body["title"]
		fo["version"] = fo["version"].(int) + 1
		reply(w, http.StatusOK, fo)
	default:
		f.violate("undocumented request %s %s", r.Method, path)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

func (f *fakeGrafana) dashboards(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	uid, isUID := strings.CutPrefix(path, "/api/dashboards/uid/")
	switch {
	case r.Method == http.MethodGet && isUID:
		d, ok := f.dash[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "Dashboard not found"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"dashboard": d, "meta": map[string]any{
			"slug": uid, "url": "/d/" + uid, "folderUid": f.dashFolder[uid], "folderId": 0, "version": d["version"]}})
	case r.Method == http.MethodPost && path == "/api/dashboards/db":
		model, _ := body["dashboard"].(map[string]any)
		uid, _ := model["uid"].(string)
		if model == nil || uid == "" || model["title"] == nil {
			f.violate("POST dashboards/db: dashboard with uid and title required")
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
		folder, _ := body["folderUid"].(string)
		if _, ok := f.folders[folder]; folder != "" && !ok {
			reply(w, http.StatusBadRequest, map[string]any{"message": "folder not found"})
			return
		}
		old, exists := f.dash[uid]
		if exists && body["overwrite"] != true {
			reply(w, http.StatusPreconditionFailed, map[string]any{"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
			return
		}
		version := 1
		id := f.nextID
		if exists {
			version = old["version"].(int) + 1
			id = old["id"].(int)
		} else {
			f.nextID++
		}
		stored := map[string]any{}
		for k, v := range model {
			stored[k] = v
		}
		stored["id"], stored["version"] = id, version
		f.dash[uid], f.dashFolder[uid] = stored, folder
		reply(w, http.StatusOK, map[string]any{"id": id, "uid": uid, "url": "/d/" + uid, "status": "success", "version": version, "slug": uid})
	default:
		f.violate("undocumented request %s %s", r.Method, path)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

const (
	testToken    = "glsa_secret-token-123"
	testDSSecret = "reader-secret-456"
)

func actions(rs []Result) map[string]Action {
	m := map[string]Action{}
	for _, r := range rs {
		m[r.Kind+"/"+r.UID] = r.Action
	}
	return m
}

func TestProvisionIdempotent(t *testing.T) {
	tests := []struct {
		name       string
		grafana    config.Grafana
		authHeader string
	}{
		{"service account token", config.Grafana{Token: testToken}, "Bearer " + testToken},
		{"basic auth", config.Grafana{User: "admin", Password: "pw-789"},
			"Basic " + base64.StdEncoding.EncodeToString([]byte("admin:pw-789"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeGrafana(t, tt.authHeader)
			g := tt.grafana
			g.URL = srv.URL
			opts := ProvisionOptions{Datasource: Datasource{Host: "ch.internal", Port: 9440, Secure: true, Password: testDSSecret}}
			ctx := context.Background()

			// First run creates everything.
			res, err := Provision(ctx, g, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 2+len(All()) {
				t.Fatalf("got %d results, want %d", len(res), 2+len(All()))
			}
			for _, r := range res {
				if r.Action != Created {
					t.Errorf("first run: %s %s %s, want created", r.Kind, r.UID, r.Action)
				}
			}
			wantWrites := []string{"POST /api/datasources", "POST /api/folders"}
			for range All() {
				wantWrites = append(wantWrites, "POST /api/dashboards/db")
			}
			if got := fake.writes(); strings.Join(got, "\n") != strings.Join(wantWrites, "\n") {
				t.Errorf("first run writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantWrites, "\n"))
			}
			ds := fake.ds["impact-clickhouse"]
			jd := ds["jsonData"].(map[string]any)
			if jd["host"] != "ch.internal" || jd["port"] != float64(9440) || jd["secure"] != true ||
				jd["username"] != "impact_reader" || jd["defaultDatabase"] != "impact" {
				t.Errorf("stored jsonData %v", jd)
			}
			if fake.dsSecret["impact-clickhouse"] != testDSSecret {
				t.Errorf("datasource password not sent in secureJsonData")
			}
			for _, d := range All() {
				if fake.dashFolder[d.UID] != FolderUID {
					t.Errorf("dashboard %s in folder %q", d.UID, fake.dashFolder[d.UID])
				}
			}

			// Second run changes nothing.
			fake.log = nil
			res, err = Provision(ctx, g, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Action != Unchanged {
					t.Errorf("second run: %s %s %s, want unchanged", r.Kind, r.UID, r.Action)
				}
			}
			if w := fake.writes(); len(w) != 0 {
				t.Errorf("second run wrote: %v", w)
			}

			// Drift in Grafana is repaired, and only there.
			fake.dash[UIDSales]["title"] = "edited in the UI"
			fake.ds["impact-clickhouse"]["jsonData"].(map[string]any)["host"] = "elsewhere"
			fake.folders[FolderUID]["title"] = "renamed"
			fake.log = nil
			res, err = Provision(ctx, g, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := actions(res)
			for key, want := range map[string]Action{
				"datasource/impact-clickhouse": Updated, "folder/impact": Updated,
				"dashboard/" + UIDSales: Updated, "dashboard/" + UIDCISO: Unchanged,
			} {
				if got[key] != want {
					t.Errorf("third run %s: %s, want %s", key, got[key], want)
				}
			}
			wantWrites = []string{"PUT /api/datasources/uid/impact-clickhouse", "PUT /api/folders/impact", "POST /api/dashboards/db"}
			if w := fake.writes(); strings.Join(w, "\n") != strings.Join(wantWrites, "\n") {
				t.Errorf("third run writes %v, want %v", w, wantWrites)
			}
			if fake.dash[UIDSales]["title"] != sales().Title || fake.dash[UIDSales]["version"] != 2 {
				t.Errorf("sales dashboard not restored: %v v%v", fake.dash[UIDSales]["title"], fake.dash[UIDSales]["version"])
			}
		})
	}
}

func TestProvisionRotatePassword(t *testing.T) {
	fake, srv := newFakeGrafana(t, "Bearer "+testToken)
	g := config.Grafana{URL: srv.URL, Token: testToken}
	ctx := context.Background()
	if _, err := Provision(ctx, g, ProvisionOptions{Datasource: Datasource{Password: "old"}}); err != nil {
		t.Fatal(err)
	}
	res, err := Provision(ctx, g, ProvisionOptions{Datasource: Datasource{Password: "new"}})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(res)["datasource/impact-clickhouse"]; a != Unchanged || fake.dsSecret["impact-clickhouse"] != "old" {
		t.Errorf("without RotatePassword: %s, stored %q; want unchanged, old", a, fake.dsSecret["impact-clickhouse"])
	}
	res, err = Provision(ctx, g, ProvisionOptions{Datasource: Datasource{Password: "new"}, RotatePassword: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(res)["datasource/impact-clickhouse"]; a != Updated || fake.dsSecret["impact-clickhouse"] != "new" {
		t.Errorf("with RotatePassword: %s, stored %q; want updated, new", a, fake.dsSecret["impact-clickhouse"])
	}
}

func TestProvisionErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name    string
		setup   func(f *fakeGrafana)
		grafana func(url string) config.Grafana
		want    error
		wantMsg string
	}{
		{"bad token", nil,
			func(u string) config.Grafana { return config.Grafana{URL: u, Token: "glsa_wrong-token"} },
			ErrUnauthorized, "IMPACT_GRAFANA_TOKEN"},
		{"bad basic auth", nil,
			func(u string) config.Grafana { return config.Grafana{URL: u, User: "admin", Password: "wrong-pw"} },
			ErrUnauthorized, "401"},
		{"no credentials", nil,
			func(u string) config.Grafana { return config.Grafana{URL: u} },
			ErrUnauthorized, "401"},
		{"viewer token cannot write datasources", func(f *fakeGrafana) { f.forbidDS = true },
			func(u string) config.Grafana { return config.Grafana{URL: u, Token: testToken} },
			ErrForbidden, "Admin role"},
		{"plugin missing", func(f *fakeGrafana) { f.plugin = false },
			func(u string) config.Grafana { return config.Grafana{URL: u, Token: testToken} },
			ErrPluginMissing, "install the grafana-clickhouse-datasource plugin"},
		{"unreachable", nil,
			func(string) config.Grafana { return config.Grafana{URL: closedURL, Token: testToken} },
			ErrUnreachable, strings.TrimPrefix(closedURL, "http://")},
		{"unreachable with basic auth", nil,
			func(string) config.Grafana {
				return config.Grafana{URL: strings.Replace(closedURL, "http://", "http://admin:url-pw@", 1), User: "admin", Password: "pw-789"}
			},
			ErrUnreachable, "connection refused"},
		{"no url", nil,
			func(string) config.Grafana { return config.Grafana{Token: testToken} },
			ErrNoGrafanaURL, "IMPACT_GRAFANA_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeGrafana(t, "Bearer "+testToken)
			if tt.setup != nil {
				tt.setup(fake)
			}
			_, err := Provision(context.Background(), tt.grafana(srv.URL), ProvisionOptions{Datasource: Datasource{Password: testDSSecret}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not mention %q", msg, tt.wantMsg)
			}
			for _, secret := range []string{testToken, "glsa_wrong-token", "wrong-pw", "pw-789", "url-pw", testDSSecret} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks a secret: %q", msg)
				}
			}
			if errors.Is(tt.want, ErrPluginMissing) && len(fake.writes()) != 0 {
				t.Errorf("wrote %v although the plugin is missing", fake.writes())
			}
		})
	}
}

func TestProvisionContextCancelled(t *testing.T) {
	_, srv := newFakeGrafana(t, "Bearer "+testToken)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Provision(ctx, config.Grafana{URL: srv.URL, Token: testToken}, ProvisionOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
