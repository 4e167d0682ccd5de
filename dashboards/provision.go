package dashboards

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	gapi "github.com/grafana/grafana-api-golang-client"

	"github.com/secimpact/impact/internal/config"
)

// Action is what Provision did to one Grafana object.
type Action string

// Provision actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
)

// Result reports one object Provision handled.
type Result struct {
	Kind   string // "datasource", "folder" or "dashboard"
	UID    string
	Title  string
	Action Action
}

func (r Result) String() string {
	return fmt.Sprintf("%-10s %-18s %-9s %s", r.Kind, r.UID, r.Action, r.Title)
}

// ProvisionOptions configures Provision. The zero value provisions the
// default data source (impact_reader on clickhouse:9000, database impact).
type ProvisionOptions struct {
	Datasource Datasource
	// RotatePassword sends Datasource.Password even when nothing else about
	// the data source changed. Grafana never returns stored secrets, so
	// without it an existing data source keeps its password and a second
	// run stays "unchanged".
	RotatePassword bool
	// Client is the HTTP client to use; default one with a 30s timeout.
	Client *http.Client
	// Departments, when set, get a team, a folder only their team (and
	// the CISO's) sees, a data source connecting as their own ClickHouse
	// reader and their own dashboard; the cross-department folder is then
	// restricted to the CISO's team.
	Departments []Department
	// CISOTeam names the team that sees every folder; default
	// DefaultCISOTeam. Used only with Departments.
	CISOTeam string
	// Alerting, when set, provisions the alert rules (AlertRules), the
	// contact points and impact's route of the notification policies.
	Alerting *Alerting
}

// Errors Provision wraps, for callers that act on the cause.
var (
	ErrUnreachable   = errors.New("grafana unreachable")
	ErrUnauthorized  = errors.New("grafana rejected the credentials")
	ErrForbidden     = errors.New("grafana denied the request")
	ErrPluginMissing = errors.New("grafana-clickhouse-datasource plugin is not installed: install the grafana-clickhouse-datasource plugin (grafana cli plugins install grafana-clickhouse-datasource, or GF_PLUGINS_PREINSTALL_SYNC)")
	ErrNoGrafanaURL  = errors.New("no Grafana URL: set IMPACT_GRAFANA_URL or --grafana-url")
)

// Provision creates or updates, in Grafana at g.URL, the ClickHouse data
// source, the "impact" folder and every dashboard (overwritten by uid). It
// only writes what differs, so a second run reports every object unchanged.
// Authentication is g.Token (service account, Bearer) or else basic auth
// with g.User and g.Password. Secrets never appear in results or errors.
func Provision(ctx context.Context, g config.Grafana, opts ProvisionOptions) ([]Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c, err := newGrafana(ctx, g, opts.Client)
	if err != nil {
		return nil, err
	}
	if err := c.checkPlugin(); err != nil {
		return nil, err
	}
	var results []Result
	r, err := c.ensureDatasource(opts.Datasource.withDefaults(), opts.RotatePassword)
	if err != nil {
		return results, err
	}
	results = append(results, r)
	r, err = c.ensureFolder()
	if err != nil {
		return results, err
	}
	results = append(results, r)
	for _, d := range All() {
		r, err := c.ensureDashboardIn(d, FolderUID)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	if len(opts.Departments) > 0 {
		rs, err := c.provisionDepartments(opts)
		results = append(results, rs...)
		if err != nil {
			return results, err
		}
	}
	if opts.Alerting != nil {
		a := *opts.Alerting
		if a.DatasourceUID == "" {
			a.DatasourceUID = opts.Datasource.withDefaults().UID
		}
		rs, err := c.provisionAlerting(a)
		results = append(results, rs...)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

type grafana struct {
	api     *gapi.Client
	http    *http.Client
	base    *url.URL
	headers map[string]string
}

func newGrafana(ctx context.Context, g config.Grafana, client *http.Client) (*grafana, error) {
	if g.URL == "" {
		return nil, ErrNoGrafanaURL
	}
	base, err := url.Parse(g.URL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("grafana url %q: not an absolute URL", g.URL)
	}
	// Credentials travel only in the Authorization header: gapi would put
	// basic auth into the URL, where net/http errors would print it.
	base.User = nil
	headers := map[string]string{}
	switch {
	case g.Token != "":
		headers["Authorization"] = "Bearer " + g.Token
	case g.User != "":
		headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(g.User+":"+g.Password))
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	hc := *client
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = &transport{ctx: ctx, next: next}
	api, err := gapi.New(base.String(), gapi.Config{HTTPHeaders: headers, Client: &hc, NumRetries: 0})
	if err != nil {
		return nil, fmt.Errorf("grafana client: %w", err)
	}
	return &grafana{api: api, http: &hc, base: base, headers: headers}, nil
}

// transport binds requests to the context (gapi takes none) and turns
// transport failures and auth statuses into errors that name the cause
// without the request's credentials.
type transport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.WithContext(t.ctx)
	resp, err := t.next.RoundTrip(req)
	where := req.Method + " " + req.URL.Path
	if err != nil {
		if ctxErr := t.ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s: %w", where, ctxErr)
		}
		return nil, fmt.Errorf("%w at %s (%s): %w", ErrUnreachable, req.URL.Host, where, err)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w (401 on %s): check IMPACT_GRAFANA_TOKEN or IMPACT_GRAFANA_USER/PASSWORD: %s", ErrUnauthorized, where, grafanaMessage(body))
		}
		return nil, fmt.Errorf("%w (403 on %s): the service account needs the Admin role to manage data sources: %s", ErrForbidden, where, grafanaMessage(body))
	}
	return resp, nil
}

func grafanaMessage(body []byte) string {
	var m struct{ Message string }
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	return strings.TrimSpace(string(body))
}

// unwrapURLError drops net/http's *url.Error layer, whose text repeats the
// URL, so messages read "grafana unreachable at host: ...".
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isNotFound(err error) bool {
	var nf gapi.ErrNotFound
	return errors.As(err, &nf)
}

// checkPlugin asks for the plugin's settings; gapi has no call for it.
func (g *grafana) checkPlugin() error {
	u := *g.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/plugins/" + PluginID + "/settings"
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("check plugin: %w", err)
	}
	for k, v := range g.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("check plugin %s: %w", PluginID, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return ErrPluginMissing
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("check plugin %s: status %d: %s", PluginID, resp.StatusCode, grafanaMessage(body))
	}
	var s struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("check plugin %s: decode settings: %w", PluginID, err)
	}
	return nil
}

func (ds Datasource) model() *gapi.DataSource {
	m := &gapi.DataSource{
		UID:       ds.UID,
		Name:      ds.Name,
		Type:      PluginID,
		Access:    "proxy",
		IsDefault: false,
		JSONData:  ds.jsonData(),
	}
	return m
}

func (g *grafana) ensureDatasource(ds Datasource, rotate bool) (Result, error) {
	res := Result{Kind: "datasource", UID: ds.UID, Title: ds.Name}
	want := ds.model()
	if ds.Password != "" {
		want.SecureJSONData = map[string]any{"password": ds.Password}
	}
	have, err := g.api.DataSourceByUID(ds.UID)
	switch {
	case isNotFound(err):
		if _, err := g.api.NewDataSource(want); err != nil {
			return res, fmt.Errorf("create datasource %s: %w", ds.UID, unwrapURLError(err))
		}
		res.Action = Created
		return res, nil
	case err != nil:
		return res, fmt.Errorf("get datasource %s: %w", ds.UID, unwrapURLError(err))
	}
	if sameDatasource(have, want) && !(rotate && ds.Password != "") {
		res.Action = Unchanged
		return res, nil
	}
	want.ID = have.ID
	want.IsDefault = have.IsDefault // an operator's choice; not ours to flip
	if err := g.api.UpdateDataSourceByUID(want); err != nil {
		return res, fmt.Errorf("update datasource %s: %w", ds.UID, unwrapURLError(err))
	}
	res.Action = Updated
	return res, nil
}

// sameDatasource compares what provisioning owns: name, type, access and
// the jsonData keys it sets (Grafana may add others).
func sameDatasource(have, want *gapi.DataSource) bool {
	if have.Name != want.Name || have.Type != want.Type || have.Access != want.Access {
		return false
	}
	for k, v := range want.JSONData {
		if !sameJSON(have.JSONData[k], v) {
			return false
		}
	}
	return true
}

// sameJSON compares two values as their JSON forms (9000 vs 9000.0).
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func (g *grafana) ensureFolder() (Result, error) {
	res := Result{Kind: "folder", UID: FolderUID, Title: FolderTitle}
	f, err := g.api.FolderByUID(FolderUID)
	switch {
	case isNotFound(err):
		if _, err := g.api.NewFolder(FolderTitle, FolderUID); err != nil {
			return res, fmt.Errorf("create folder %s: %w", FolderUID, unwrapURLError(err))
		}
		res.Action = Created
		return res, nil
	case err != nil:
		return res, fmt.Errorf("get folder %s: %w", FolderUID, unwrapURLError(err))
	}
	if f.Title == FolderTitle {
		res.Action = Unchanged
		return res, nil
	}
	if err := g.api.UpdateFolder(FolderUID, FolderTitle); err != nil {
		return res, fmt.Errorf("update folder %s: %w", FolderUID, unwrapURLError(err))
	}
	res.Action = Updated
	return res, nil
}

func (g *grafana) ensureDashboardIn(d Dashboard, folderUID string) (Result, error) {
	res := Result{Kind: "dashboard", UID: d.UID, Title: d.Title}
	b, err := d.JSON()
	if err != nil {
		return res, err
	}
	var model map[string]any
	if err := json.Unmarshal(b, &model); err != nil {
		return res, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	have, err := g.api.DashboardByUID(d.UID)
	switch {
	case isNotFound(err):
		res.Action = Created
	case err != nil:
		return res, fmt.Errorf("get dashboard %s: %w", d.UID, unwrapURLError(err))
	case have.Meta.FolderUID == folderUID && sameDashboard(have.Model, model):
		res.Action = Unchanged
		return res, nil
	default:
		res.Action = Updated
	}
	_, err = g.api.NewDashboard(gapi.Dashboard{
		Model:     model,
		FolderUID: folderUID,
		Overwrite: true,
		Message:   "impact provision",
	})
	if err != nil {
		return res, fmt.Errorf("save dashboard %s: %w", d.UID, unwrapURLError(err))
	}
	return res, nil
}

// sameDashboard compares a stored dashboard with ours, ignoring what
// Grafana assigns on save (id, version).
func sameDashboard(have, want map[string]any) bool {
	strip := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			switch k {
			case "id", "version":
				continue
			}
			out[k] = v
		}
		return out
	}
	return sameJSON(strip(have), strip(want))
}
