// Package gitlab maps GitLab webhook deliveries onto contract events:
//
//	Vulnerability Hook   security.finding.* (state detected/confirmed open, resolved fixed, dismissed dismissed)
//	Job Hook             security.gate.evaluated, for jobs the mapping file names as gates
//	Pipeline Hook        security.gate.evaluated, for its jobs named as gates, and for whole pipelines
//	                     when a gates entry without job or stage names the project
//	Deployment Hook      deployment.started (running) / deployment.finished (success, failed, canceled)
//
// A job reported by both its Job Hook and its pipeline's Pipeline Hook has
// the same run id and, for the same finish time, the same event id. Which
// project is which service comes from the mapping file (services[].gitlab,
// by path_with_namespace or numeric id); the default is the project's path.
package gitlab

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// System is the source system name in event ids and the mapping file.
const System = "gitlab"

// Source is the CloudEvents source attribute of events about a project
// (path_with_namespace): the gateway and any importer build it alike.
func Source(project string) string { return "gitlab:" + project }

// Delivery is one webhook delivery.
type Delivery struct {
	Event    string // X-Gitlab-Event header, e.g. "Job Hook"
	Received time.Time
	Body     []byte
}

// Project is the project object of GitLab hooks.
type Project struct {
	ID                json.Number `json:"id"`
	PathWithNamespace string      `json:"path_with_namespace"`
	WebURL            string      `json:"web_url"`
}

type hook struct {
	ObjectKind string      `json:"object_kind"`
	Project    Project     `json:"project"`
	ProjectID  json.Number `json:"project_id"` // job hooks
	Repository struct {
		Homepage string `json:"homepage"`
	} `json:"repository"`

	// Job Hook
	BuildID           int64        `json:"build_id"`
	BuildName         string       `json:"build_name"`
	BuildStage        string       `json:"build_stage"`
	BuildStatus       string       `json:"build_status"`
	BuildStartedAt    sources.Time `json:"build_started_at"`
	BuildFinishedAt   sources.Time `json:"build_finished_at"`
	BuildAllowFailure bool         `json:"build_allow_failure"`
	PipelineID        int64        `json:"pipeline_id"`
	SHA               string       `json:"sha"`

	// Pipeline Hook, Vulnerability Hook
	ObjectAttributes json.RawMessage `json:"object_attributes"`
	Builds           []Build         `json:"builds"`

	// Deployment Hook
	Status          string          `json:"status"`
	StatusChangedAt sources.Time    `json:"status_changed_at"`
	DeploymentID    int64           `json:"deployment_id"`
	DeployableID    int64           `json:"deployable_id"`
	Environment     json.RawMessage `json:"environment"` // a name (deployment) or an object (job)
	ShortSHA        string          `json:"short_sha"`
	CommitURL       string          `json:"commit_url"`
	Ref             string          `json:"ref"`
}

// Build is a job of a Pipeline Hook.
type Build struct {
	ID           int64        `json:"id"`
	Stage        string       `json:"stage"`
	Name         string       `json:"name"`
	Status       string       `json:"status"`
	StartedAt    sources.Time `json:"started_at"`
	FinishedAt   sources.Time `json:"finished_at"`
	AllowFailure bool         `json:"allow_failure"`
}

// Map maps one delivery. Other hooks, unfinished jobs and jobs that are
// not gates are ignored with the reason.
func Map(m *mapping.File, d Delivery) (sources.Result, error) {
	if m == nil {
		m = &mapping.File{}
	}
	// The kind first: the other hooks (push, merge_request, note, ...) are
	// ignored whatever their other members hold.
	var probe struct {
		ObjectKind string `json:"object_kind"`
	}
	if err := json.Unmarshal(d.Body, &probe); err != nil {
		return sources.Result{}, fmt.Errorf("decode GitLab %s: %w", sources.Or(d.Event, "webhook"), err)
	}
	kind := probe.ObjectKind
	switch kind {
	case "build", "pipeline", "deployment", "vulnerability":
	default:
		return sources.Ignore("GitLab %q event carries nothing for the contract", sources.Or(kind, d.Event)), nil
	}
	var h hook
	if err := json.Unmarshal(d.Body, &h); err != nil {
		return sources.Result{}, fmt.Errorf("decode GitLab %s: %w", sources.Or(d.Event, "webhook"), err)
	}
	x := &mapper{m: m, project: projectPath(&h)}
	if x.project == "" && kind != "vulnerability" {
		return sources.Result{}, fmt.Errorf("GitLab %s: no project path (project.path_with_namespace, repository.homepage)", kind)
	}
	x.projectID = sources.Or(h.Project.ID.String(), h.ProjectID.String())
	switch kind {
	case "build":
		return x.job(&h)
	case "pipeline":
		return x.pipeline(&h)
	case "deployment":
		return x.deployment(&h)
	}
	return x.vulnerability(&h)
}

// projectPath is path_with_namespace, or the path of the project's web URL
// (job hooks carry only repository.homepage).
func projectPath(h *hook) string {
	if h.Project.PathWithNamespace != "" {
		return h.Project.PathWithNamespace
	}
	for _, raw := range []string{h.Project.WebURL, h.Repository.Homepage} {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			if p := strings.Trim(u.Path, "/"); p != "" {
				return p
			}
		}
	}
	return ""
}

type mapper struct {
	m         *mapping.File
	project   string
	projectID string
}

func (x *mapper) service() string {
	if x.projectID != "" {
		if s := x.m.Service(mapping.GitLab, x.projectID, ""); s != "" {
			return s
		}
	}
	return x.m.Service(mapping.GitLab, x.project, x.project)
}

func (x *mapper) event(typ string, at time.Time, data schemas.Payload) sources.Event {
	return sources.Event{
		ID:     sources.ChangeID(System, data.EntityID(), typ, at),
		Source: Source(x.project),
		Type:   typ,
		Time:   at.UTC(),
		Data:   data,
	}
}

// verdict maps a finished job or pipeline status: success passes, failed
// fails; canceled, skipped and manual give no verdict.
func verdict(status string) (string, bool) {
	switch status {
	case "success":
		return "pass", true
	case "failed":
		return "fail", true
	}
	return "", false
}

func (x *mapper) gate(runID, sha string, g mapping.GateMatch, allowFailure bool, result string, started, finished sources.Time) (sources.Result, error) {
	if finished.IsZero() {
		return sources.Result{}, fmt.Errorf("%s: finished without a finish time", runID)
	}
	if started.IsZero() {
		started = finished // a job that never ran (failed before starting)
	}
	ge := &schemas.GateEvaluation{
		RunID:     runID,
		ServiceID: x.service(),
		CommitSHA: sources.NonEmpty(sha),
		Tool:      g.Tool,
		Result:    result,
		// allow_failure: GitLab itself lets the pipeline go on.
		Blocking:    g.Blocking && !allowFailure,
		StartedAt:   started.UTC(),
		CompletedAt: finished.UTC(),
	}
	return sources.Mapped(x.event("security.gate.evaluated", finished.Time, ge)), nil
}

func (x *mapper) jobRunID(id int64) string { return fmt.Sprintf("gitlab:%s/jobs/%d", x.project, id) }

func (x *mapper) job(h *hook) (sources.Result, error) {
	g, ok := x.m.Gate(mapping.GateQuery{Source: mapping.GitLab, Repo: x.project, Stage: h.BuildStage, Job: h.BuildName})
	if !ok {
		return sources.Ignore("job %q (stage %q): not a security gate in the mapping file", h.BuildName, h.BuildStage), nil
	}
	result, ok := verdict(h.BuildStatus)
	if !ok {
		return sources.Ignore("job %s: no gate verdict", h.BuildStatus), nil
	}
	return x.gate(x.jobRunID(h.BuildID), h.SHA, g, h.BuildAllowFailure, result, h.BuildStartedAt, h.BuildFinishedAt)
}

type pipelineAttrs struct {
	ID         int64        `json:"id"`
	SHA        string       `json:"sha"`
	Status     string       `json:"status"`
	CreatedAt  sources.Time `json:"created_at"`
	FinishedAt sources.Time `json:"finished_at"`
}

func (x *mapper) pipeline(h *hook) (sources.Result, error) {
	var p pipelineAttrs
	if err := json.Unmarshal(h.ObjectAttributes, &p); err != nil {
		return sources.Result{}, fmt.Errorf("pipeline object_attributes: %w", err)
	}
	var out sources.Result
	if g, ok := x.m.Gate(mapping.GateQuery{Source: mapping.GitLab, Repo: x.project, Workflow: "pipeline"}); ok {
		if result, ok := verdict(p.Status); ok {
			r, err := x.gate(fmt.Sprintf("gitlab:%s/pipelines/%d", x.project, p.ID), p.SHA, g, false, result, p.CreatedAt, p.FinishedAt)
			if err != nil {
				return sources.Result{}, err
			}
			out.Add(r)
		}
	}
	for _, b := range h.Builds {
		g, ok := x.m.Gate(mapping.GateQuery{Source: mapping.GitLab, Repo: x.project, Stage: b.Stage, Job: b.Name})
		if !ok {
			continue
		}
		result, ok := verdict(b.Status)
		if !ok {
			continue
		}
		r, err := x.gate(x.jobRunID(b.ID), p.SHA, g, b.AllowFailure, result, b.StartedAt, b.FinishedAt)
		if err != nil {
			return sources.Result{}, err
		}
		out.Add(r)
	}
	if len(out.Events) == 0 {
		return sources.Ignore("pipeline %d (%s): no finished security gate in it", p.ID, p.Status), nil
	}
	return out, nil
}

// deployment maps a Deployment Hook. GitLab dates only the status change:
// a running deployment started then; a finished one finished then, and its
// start is not in the payload, so started_at is the finish time (lead time,
// first commit to finish, does not depend on it).
func (x *mapper) deployment(h *hook) (sources.Result, error) {
	var status, typ string
	switch h.Status {
	case "running":
		status, typ = "in_progress", "deployment.started"
	case "success":
		status, typ = "success", "deployment.finished"
	case "failed", "canceled":
		status, typ = "failure", "deployment.finished"
	default: // created, blocked: nothing has happened yet
		return sources.Ignore("deployment %s: not started yet", h.Status), nil
	}
	at := h.StatusChangedAt
	if at.IsZero() || h.DeploymentID == 0 {
		return sources.Result{}, fmt.Errorf("deployment: no deployment_id or status_changed_at")
	}
	var env string
	if err := json.Unmarshal(h.Environment, &env); err != nil {
		var o struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(h.Environment, &o)
		env = o.Name
	}
	sha := h.ShortSHA
	if i := strings.LastIndex(h.CommitURL, "/commit/"); i >= 0 {
		sha = h.CommitURL[i+len("/commit/"):]
	}
	d := &schemas.Deployment{
		DeploymentID: fmt.Sprintf("gitlab:%s/deployments/%d", x.project, h.DeploymentID),
		ServiceID:    x.service(),
		Environment:  sources.Or(env, "unknown"),
		CommitSHA:    sources.NonEmpty(sha),
		StartedAt:    at.UTC(),
		Status:       status,
		Trigger:      "feature",
	}
	if strings.HasPrefix(strings.ToLower(h.Ref), "hotfix") {
		d.Trigger = "hotfix"
	}
	if typ == "deployment.finished" {
		d.FinishedAt = sources.Ptr(at.UTC())
	}
	return sources.Mapped(x.event(typ, at.Time, d)), nil
}

// Vulnerability is the object_attributes of a Vulnerability Hook.
type Vulnerability struct {
	URL         string       `json:"url"`
	Title       string       `json:"title"`
	State       string       `json:"state"`
	Severity    string       `json:"severity"`
	ReportType  string       `json:"report_type"`
	ProjectID   json.Number  `json:"project_id"`
	CreatedAt   sources.Time `json:"created_at"`
	UpdatedAt   sources.Time `json:"updated_at"`
	DismissedAt sources.Time `json:"dismissed_at"`
	ResolvedAt  sources.Time `json:"resolved_at"`
	Identifiers []struct {
		ExternalType string `json:"external_type"`
		ExternalID   string `json:"external_id"`
		Name         string `json:"name"`
	} `json:"identifiers"`
	CVSS []struct {
		Vector string `json:"vector"`
	} `json:"cvss"`
}

// category maps GitLab's scanner report types to the contract.
func category(reportType string) string {
	switch reportType {
	case "sast":
		return "sast"
	case "dependency_scanning":
		return "sca"
	case "container_scanning", "cluster_image_scanning":
		return "container"
	case "secret_detection":
		return "secret"
	case "dast", "api_fuzzing", "coverage_fuzzing":
		return "dast"
	}
	return "other"
}

func (x *mapper) vulnerability(h *hook) (sources.Result, error) {
	var v Vulnerability
	if err := json.Unmarshal(h.ObjectAttributes, &v); err != nil {
		return sources.Result{}, fmt.Errorf("vulnerability object_attributes: %w", err)
	}
	// The vulnerability's URL names its project and id:
	// https://gitlab.example.com/group/project/-/security/vulnerabilities/621
	u, err := url.Parse(v.URL)
	if err != nil {
		return sources.Result{}, fmt.Errorf("vulnerability: url %q: %w", v.URL, err)
	}
	path, id, ok := strings.Cut(strings.Trim(u.Path, "/"), "/-/security/vulnerabilities/")
	if !ok || id == "" {
		return sources.Result{}, fmt.Errorf("vulnerability: url %q does not name a vulnerability", v.URL)
	}
	if x.project == "" {
		x.project = path
	}
	if x.projectID == "" {
		x.projectID = v.ProjectID.String()
	}
	if v.CreatedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("vulnerability %s: no created_at", id)
	}
	var status string
	switch v.State {
	case "detected", "confirmed":
		status = "open"
	case "resolved":
		status = "fixed"
	case "dismissed":
		status = "dismissed"
	default:
		return sources.Result{}, fmt.Errorf("vulnerability %s: state %q has no contract status", id, v.State)
	}
	severity := strings.ToLower(v.Severity)
	switch severity {
	case "critical", "high", "medium", "low", "info":
	default: // unknown
		severity = "info"
	}
	f := &schemas.Finding{
		FindingID:  fmt.Sprintf("gitlab:%s/vulnerabilities/%s", x.project, id),
		Scanner:    "gitlab-" + strings.ReplaceAll(sources.Or(v.ReportType, "unknown"), "_", "-"),
		Category:   category(v.ReportType),
		Title:      sources.NonEmpty(v.Title),
		Severity:   severity,
		ServiceID:  x.service(),
		Repo:       sources.Ptr(x.project),
		Status:     status,
		DetectedAt: v.CreatedAt.UTC(),
	}
	for _, ident := range v.Identifiers {
		switch strings.ToLower(ident.ExternalType) {
		case "cve":
			if f.CVEID == nil {
				f.CVEID = sources.NonEmpty(ident.ExternalID)
			}
		case "cwe":
			if f.CWEID == nil && ident.ExternalID != "" {
				if _, err := strconv.Atoi(ident.ExternalID); err == nil {
					f.CWEID = sources.Ptr("CWE-" + ident.ExternalID)
				}
			}
		}
	}
	at := v.UpdatedAt.Time
	if at.IsZero() {
		at = v.CreatedAt.Time
	}
	typ := "security.finding.updated"
	switch status {
	case "fixed":
		typ = "security.finding.fixed"
		f.FixedAt = sources.Or2(v.ResolvedAt, sources.Time{Time: at}).Ptr()
	case "dismissed":
		typ = "security.finding.dismissed"
		f.DismissedAt = sources.Or2(v.DismissedAt, sources.Time{Time: at}).Ptr()
	default:
		if at.Equal(v.CreatedAt.Time) {
			typ = "security.finding.opened"
		}
	}
	return sources.Mapped(x.event(typ, at, f)), nil
}
