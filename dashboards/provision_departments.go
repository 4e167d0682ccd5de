package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// DefaultCISOTeam is the team that sees the cross-department folder once
// departments are provisioned.
const DefaultCISOTeam = "impact: CISO"

// permView is the View level of Grafana's folder permissions API (2 is
// Edit, 4 Admin).
const permView = 1

// call sends one JSON request to Grafana's HTTP API and decodes the JSON
// answer into out (when not nil). It returns the status; a status of 400
// or more is an error unless it is in ok.
func (g *grafana) call(method, path string, query url.Values, body, out any, headers map[string]string, ok ...int) (int, error) {
	u := *g.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range g.headers {
		req.Header.Set(k, v)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		for _, s := range ok {
			if s == resp.StatusCode {
				return resp.StatusCode, nil
			}
		}
		return resp.StatusCode, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, grafanaMessage(raw))
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// ensureTeam finds the team by its exact name or creates it, and returns
// its id. Team names are unique in an organisation.
func (g *grafana) ensureTeam(name string) (Result, int64, error) {
	res := Result{Kind: "team", UID: name, Title: name}
	var found struct {
		Teams []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"teams"`
	}
	// The name parameter matches the name exactly; Grafana answers 404 or
	// an empty list when there is no such team.
	status, err := g.call(http.MethodGet, "/api/teams/search", url.Values{"name": {name}}, nil, &found, nil, http.StatusNotFound)
	if err != nil {
		return res, 0, fmt.Errorf("find team %q: %w", name, err)
	}
	if status != http.StatusNotFound {
		for _, t := range found.Teams {
			if t.Name == name {
				res.Action = Unchanged
				return res, t.ID, nil
			}
		}
	}
	var created struct {
		TeamID int64 `json:"teamId"`
	}
	if _, err := g.call(http.MethodPost, "/api/teams", nil, map[string]any{"name": name}, &created, nil); err != nil {
		return res, 0, fmt.Errorf("create team %q: %w", name, err)
	}
	res.Action = Created
	return res, created.TeamID, nil
}

// ensureFolderUID is ensureFolder for any folder.
func (g *grafana) ensureFolderUID(uid, title string) (Result, error) {
	res := Result{Kind: "folder", UID: uid, Title: title}
	var have struct {
		Title   string `json:"title"`
		Version int    `json:"version"`
	}
	status, err := g.call(http.MethodGet, "/api/folders/"+url.PathEscape(uid), nil, nil, &have, nil, http.StatusNotFound)
	if err != nil {
		return res, fmt.Errorf("get folder %s: %w", uid, err)
	}
	switch {
	case status == http.StatusNotFound:
		if _, err := g.call(http.MethodPost, "/api/folders", nil, map[string]any{"uid": uid, "title": title}, nil, nil); err != nil {
			return res, fmt.Errorf("create folder %s: %w", uid, err)
		}
		res.Action = Created
	case have.Title == title:
		res.Action = Unchanged
	default:
		if _, err := g.call(http.MethodPut, "/api/folders/"+url.PathEscape(uid), nil,
			map[string]any{"title": title, "version": have.Version}, nil, nil); err != nil {
			return res, fmt.Errorf("update folder %s: %w", uid, err)
		}
		res.Action = Updated
	}
	return res, nil
}

// permission is one folder permission item.
type permission struct {
	TeamID     int64  `json:"teamId,omitempty"`
	UserID     int64  `json:"userId,omitempty"`
	Role       string `json:"role,omitempty"`
	Permission int    `json:"permission"`
}

func (p permission) key() string {
	return fmt.Sprintf("%d/%d/%s/%d", p.TeamID, p.UserID, p.Role, p.Permission)
}

// ensureFolderPermissions makes the folder's permissions exactly want
// (Admins always have access and are not listed). Grafana's update
// replaces every permission of the folder, so it is sent only when the
// current set differs: that removes the default Viewer and Editor role
// permissions, so only the listed teams see the folder.
func (g *grafana) ensureFolderPermissions(uid string, want []permission) (Result, error) {
	res := Result{Kind: "permissions", UID: uid, Title: "folder " + uid}
	var have []struct {
		permission
		Inherited bool `json:"inherited"`
	}
	if _, err := g.call(http.MethodGet, "/api/folders/"+url.PathEscape(uid)+"/permissions", nil, nil, &have, nil); err != nil {
		return res, fmt.Errorf("get permissions of folder %s: %w", uid, err)
	}
	var haveKeys, wantKeys []string
	for _, p := range have {
		if p.Inherited || p.Role == "Admin" {
			continue
		}
		haveKeys = append(haveKeys, p.key())
	}
	for _, p := range want {
		wantKeys = append(wantKeys, p.key())
	}
	sort.Strings(haveKeys)
	sort.Strings(wantKeys)
	if strings.Join(haveKeys, ",") == strings.Join(wantKeys, ",") {
		res.Action = Unchanged
		return res, nil
	}
	if _, err := g.call(http.MethodPost, "/api/folders/"+url.PathEscape(uid)+"/permissions", nil,
		map[string]any{"items": want}, nil, nil); err != nil {
		return res, fmt.Errorf("set permissions of folder %s: %w", uid, err)
	}
	res.Action = Updated
	return res, nil
}

// provisionDepartments creates, for the CISO and each department, a team;
// makes the cross-department folder visible to the CISO team alone; and
// gives each department its folder (its team alone), data source and
// dashboard.
func (g *grafana) provisionDepartments(opts ProvisionOptions) ([]Result, error) {
	var results []Result
	ciso := opts.CISOTeam
	if ciso == "" {
		ciso = DefaultCISOTeam
	}
	r, cisoID, err := g.ensureTeam(ciso)
	if err != nil {
		return results, err
	}
	results = append(results, r)
	if r, err = g.ensureFolderPermissions(FolderUID, []permission{{TeamID: cisoID, Permission: permView}}); err != nil {
		return results, err
	}
	results = append(results, r)
	shared := opts.Datasource.withDefaults()
	for _, d := range opts.Departments {
		if err := d.Validate(); err != nil {
			return results, err
		}
		r, teamID, err := g.ensureTeam(d.TeamName())
		if err != nil {
			return results, err
		}
		results = append(results, r)
		if r, err = g.ensureFolderUID(d.FolderUID(), d.FolderTitle()); err != nil {
			return results, err
		}
		results = append(results, r)
		// The department's team views its folder; the CISO's team sees
		// every department's too.
		if r, err = g.ensureFolderPermissions(d.FolderUID(), []permission{
			{TeamID: teamID, Permission: permView}, {TeamID: cisoID, Permission: permView},
		}); err != nil {
			return results, err
		}
		results = append(results, r)
		if r, err = g.ensureDatasource(d.datasource(shared), false); err != nil {
			return results, err
		}
		results = append(results, r)
		if r, err = g.ensureDashboardIn(d.Dashboard(), d.FolderUID()); err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}
