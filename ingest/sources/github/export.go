package github

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

// Import reads saved pages of GitHub's REST list endpoints — code scanning,
// Dependabot and secret scanning alerts of a repository or organization,
// a repository's deployments and each deployment's statuses — and calls
// emit with one Outcome per element. Every element names its repository
// and kind in its API url, so pages of several repositories and kinds can
// be given together.
//
// An alert becomes its opening (created_at) and, when it is fixed or
// dismissed, that change at its own time, through the same mapping as the
// webhooks (CodeScanningAlert, DependabotAlert, SecretScanningAlert), so
// an import and a webhook of the same change are one event. A deployment is
// its start; each status a start or finish, as the deployment_status
// webhook maps it. A page that is not a list (a truncated download, an
// element without its url) is an error naming the file, line and element.
func Import(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error {
	m = mappingOrDefault(m)
	// Alerts are emitted as they are read; deployments and their statuses
	// are kept until every file is read, as a status may come before its
	// deployment's page.
	var deps []*record
	err := export.Stream(ctx, files, func(name string, data []byte, emit func(export.Outcome) error) error {
		_, err := export.Page(name, data, "", func(r export.Record) error {
			rec, err := readRecord(name, r)
			if err != nil {
				return err
			}
			if rec.alert == nil {
				deps = append(deps, &rec)
				return nil
			}
			return rec.emit(m, nil, emit)
		})
		return err
	}, emit)
	if err != nil {
		return err
	}
	deployments := map[string]*Deployment{} // repo/id -> deployment
	for _, r := range deps {
		if r.kind == "deployment" {
			deployments[r.repo+"/"+r.deployment] = r.dep
		}
	}
	for _, r := range deps {
		if err := r.emit(m, deployments, emit); err != nil {
			return err
		}
	}
	return nil
}

// emit maps the record and emits its outcome.
func (r *record) emit(m *mapping.File, deployments map[string]*Deployment, emit func(export.Outcome) error) error {
	res, err := r.mapRecord(m, deployments)
	if err != nil {
		return export.At(r.file, r.line, r.path, err)
	}
	return emit(export.Outcome{File: r.file, Line: r.line, Events: dedupe(res.Events), Unmapped: res.Unmapped, Ignored: res.Ignored})
}

// record is one element of a saved page.
type record struct {
	file, path string
	line       int
	repo       string // owner/name
	kind       string // code-scanning, dependabot, secret-scanning, deployment, deployment-status
	deployment string // the deployment id of a deployment or status
	alert      *Alert
	dep        *Deployment
	status     *DeploymentStatus
}

// readRecord reads an element and tells its kind and repository from its
// url: /repos/{owner}/{repo}/code-scanning/alerts/{n},
// .../dependabot/alerts/{n}, .../secret-scanning/alerts/{n},
// .../deployments/{id}, .../deployments/{id}/statuses/{id}.
func readRecord(file string, r export.Record) (record, error) {
	rec := record{file: file, path: r.Path, line: r.Line}
	var head struct {
		URL           string `json:"url"`
		DeploymentURL string `json:"deployment_url"`
	}
	if err := r.Unmarshal(file, &head, "a GitHub API object"); err != nil {
		return rec, err
	}
	u, err := url.Parse(head.URL)
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if err != nil || head.URL == "" || len(parts) < 5 || parts[0] != "repos" {
		return rec, export.Errorf(file, r.Line, r.Path+".url", "want the object's API url (https://api.github.com/repos/OWNER/REPO/...), have %q: save the REST API's answer unchanged", head.URL)
	}
	rec.repo = parts[1] + "/" + parts[2]
	rest := strings.Join(parts[3:], "/")
	var target any
	switch {
	case strings.HasPrefix(rest, "code-scanning/alerts/"):
		rec.kind, rec.alert = "code-scanning", &Alert{}
		target = rec.alert
	case strings.HasPrefix(rest, "dependabot/alerts/"):
		rec.kind, rec.alert = "dependabot", &Alert{}
		target = rec.alert
	case strings.HasPrefix(rest, "secret-scanning/alerts/"):
		rec.kind, rec.alert = "secret-scanning", &Alert{}
		target = rec.alert
	case len(parts) == 5 && parts[3] == "deployments":
		rec.kind, rec.deployment, rec.dep = "deployment", parts[4], &Deployment{}
		target = rec.dep
	case len(parts) == 7 && parts[3] == "deployments" && parts[5] == "statuses":
		rec.kind, rec.deployment, rec.status = "deployment-status", parts[4], &DeploymentStatus{}
		target = rec.status
	default:
		return rec, export.Errorf(file, r.Line, r.Path+".url", "%s is not a code scanning, Dependabot or secret scanning alert, a deployment or a deployment status", head.URL)
	}
	return rec, r.Unmarshal(file, target, "a GitHub "+rec.kind)
}

// key identifies an imported record when GitHub does not date a change
// (see the package documentation): its API url stands in for a delivery.
func (r *record) key() string { return "import:" + r.repo + "/" + r.kind + "/" + r.path }

func (r *record) mapRecord(m *mapping.File, deployments map[string]*Deployment) (sources.Result, error) {
	var alert func(*mapping.File, string, string, *Alert, time.Time, string) (sources.Result, error)
	switch r.kind {
	case "code-scanning":
		alert = CodeScanningAlert
	case "dependabot":
		alert = DependabotAlert
	case "secret-scanning":
		alert = SecretScanningAlert
	case "deployment":
		x := &mapper{m: m, repo: r.repo, key: r.key()}
		return x.deploymentCreated(&payload{Action: "created", Deployment: *r.dep})
	case "deployment-status":
		d := deployments[r.repo+"/"+r.deployment]
		if d == nil {
			return sources.Ignore("status of deployment %s, which no deployments page given lists", r.deployment), nil
		}
		x := &mapper{m: m, repo: r.repo, key: r.key()}
		return x.deploymentStatus(&payload{Deployment: *d, DeploymentStatus: *r.status})
	}
	a := r.alert
	// The opening, as the created webhook maps it: the alert as it was
	// then, open.
	opened := *a
	opened.State, opened.Resolution = "open", nil
	res, err := alert(m, r.repo, "created", &opened, time.Time{}, r.key())
	if err != nil || len(res.Events) == 0 {
		return res, err
	}
	if a.State == "open" {
		return res, nil
	}
	// The fixing or dismissal at its own time. The REST API has no
	// history: a reopening before the current state is not known.
	// updated_at dates a change the alert has no own time for.
	closed, err := alert(m, r.repo, "", a, a.UpdatedAt.Time, r.key())
	if err != nil {
		return sources.Result{}, err
	}
	res.Add(closed)
	return res, nil
}

// dedupe drops repeated events (the same id twice in one record).
func dedupe(evs []sources.Event) []sources.Event {
	seen := map[string]bool{}
	out := evs[:0]
	for _, e := range evs {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
