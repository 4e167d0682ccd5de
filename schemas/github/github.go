// Package github converts GitHub webhook deliveries into contract v1
// CloudEvents (structured-mode JSON), ready for `impact publish`:
//
//   - code_scanning_alert -> security.finding.* (category sast)
//   - dependabot_alert -> security.finding.* (category sca)
//   - deployment_status -> deployment.started / deployment.finished
//   - workflow_job -> security.gate.evaluated, only for completed jobs the
//     caller names as security gates (GitHub cannot tell which jobs are)
//
// Everything else, and deliveries that carry no contract fact (a waiting
// job, an inactive deployment status), returns ErrSkip. Where GitHub does
// not say what the contract needs, Options decides, with documented
// defaults; nothing is guessed silently.
package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/schemas"
)

// ErrSkip means the delivery carries no contract v1 event.
var ErrSkip = errors.New("github: delivery carries no contract v1 event")

// Options fills in what GitHub does not say. The zero value is usable.
type Options struct {
	// Service maps a repository ("owner/name") to a catalog service id.
	// Default: the repository name itself.
	Service func(repo string) string

	// Gate says whether a workflow job is a security gate and whether its
	// failure blocks deployment. Default nil: no job is a gate, every
	// workflow_job delivery is skipped.
	Gate func(workflow, job string) (gate, blocking bool)

	// Trigger says why a deployment happened (feature, hotfix,
	// security_fix, rollback, config). Default: "rollback" when the
	// deployment task or description says rollback, else "feature".
	Trigger func(task, description, ref string) string
}

// Delivery is one webhook delivery.
type Delivery struct {
	Event    string    // X-GitHub-Event header, e.g. code_scanning_alert
	ID       string    // X-GitHub-Delivery header (GUID); empty: derived from Body
	Received time.Time // when it arrived; the event time when the payload has none
	Body     []byte
}

// Convert converts one delivery into a structured-mode CloudEvent. The
// event id is the delivery GUID (GitHub keeps it on redelivery, so a
// redelivered webhook is the same event), or a hash of the body.
func (o Options) Convert(d Delivery) ([]byte, error) {
	var p payload
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return nil, fmt.Errorf("decode %s webhook: %w", d.Event, err)
	}
	if p.Repository.FullName == "" {
		return nil, fmt.Errorf("%s webhook: no repository", d.Event)
	}
	var (
		typ  string
		at   time.Time
		data any
		err  error
	)
	switch d.Event {
	case "code_scanning_alert":
		typ, at, data, err = o.codeScanning(&p, d.Received)
	case "dependabot_alert":
		typ, at, data, err = o.dependabot(&p, d.Received)
	case "deployment_status":
		typ, at, data, err = o.deployment(&p)
	case "workflow_job":
		typ, at, data, err = o.workflowJob(&p)
	default:
		return nil, ErrSkip
	}
	if err != nil {
		return nil, err
	}
	id := d.ID
	if id == "" {
		sum := sha256.Sum256(d.Body)
		id = "sha256:" + hex.EncodeToString(sum[:16])
	}
	ev := cloudEvent{
		SpecVersion:     schemas.SpecVersion,
		ID:              id,
		Source:          "https://github.com/" + p.Repository.FullName,
		Type:            typ,
		Time:            at.UTC().Format(time.RFC3339),
		Subject:         entityID(data),
		DataContentType: "application/json",
		DataSchema:      schemas.DataSchemaFor(typ),
		Data:            data,
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", typ, err)
	}
	return b, nil
}

type cloudEvent struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Time            string `json:"time"`
	Subject         string `json:"subject"`
	DataContentType string `json:"datacontenttype"`
	DataSchema      string `json:"dataschema"`
	Data            any    `json:"data"`
}

func entityID(data any) string {
	if p, ok := data.(schemas.Payload); ok {
		return p.EntityID()
	}
	return ""
}

func (o Options) service(repo string) string {
	if o.Service != nil {
		return o.Service(repo)
	}
	return repo
}

// payload is the part of the webhook bodies the converter reads.
type payload struct {
	Action     string `json:"action"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	CommitOID string `json:"commit_oid"`
	Alert     struct {
		Number    int64      `json:"number"`
		State     string     `json:"state"`
		CreatedAt *time.Time `json:"created_at"`
		UpdatedAt *time.Time `json:"updated_at"`
		FixedAt   *time.Time `json:"fixed_at"`
		// code scanning
		DismissedAt     *time.Time `json:"dismissed_at"`
		DismissedReason *string    `json:"dismissed_reason"`
		Rule            struct {
			ID                    string   `json:"id"`
			Severity              string   `json:"severity"`
			SecuritySeverityLevel string   `json:"security_severity_level"`
			Description           string   `json:"description"`
			Tags                  []string `json:"tags"`
		} `json:"rule"`
		Tool struct {
			Name string `json:"name"`
		} `json:"tool"`
		// dependabot
		AutoDismissedAt  *time.Time `json:"auto_dismissed_at"`
		DismissedComment *string    `json:"dismissed_comment"`
		Dependency       struct {
			ManifestPath string `json:"manifest_path"`
		} `json:"dependency"`
		SecurityAdvisory struct {
			CVEID    *string `json:"cve_id"`
			Summary  string  `json:"summary"`
			Severity string  `json:"severity"`
			CVSS     struct {
				Score float64 `json:"score"`
			} `json:"cvss"`
			CWEs []struct {
				CWEID string `json:"cwe_id"`
			} `json:"cwes"`
			EPSS []struct {
				Percentage float64 `json:"percentage"`
			} `json:"epss"`
		} `json:"security_advisory"`
	} `json:"alert"`
	Deployment struct {
		ID          int64     `json:"id"`
		SHA         string    `json:"sha"`
		Ref         string    `json:"ref"`
		Task        string    `json:"task"`
		Environment string    `json:"environment"`
		Description *string   `json:"description"`
		CreatedAt   time.Time `json:"created_at"`
	} `json:"deployment"`
	DeploymentStatus struct {
		State       string    `json:"state"`
		Environment string    `json:"environment"`
		CreatedAt   time.Time `json:"created_at"`
	} `json:"deployment_status"`
	WorkflowJob struct {
		ID           int64      `json:"id"`
		RunID        int64      `json:"run_id"`
		RunAttempt   int64      `json:"run_attempt"`
		WorkflowName string     `json:"workflow_name"`
		Name         string     `json:"name"`
		HeadSHA      string     `json:"head_sha"`
		Status       string     `json:"status"`
		Conclusion   *string    `json:"conclusion"`
		StartedAt    *time.Time `json:"started_at"`
		CompletedAt  *time.Time `json:"completed_at"`
	} `json:"workflow_job"`
}

func ptr[T any](v T) *T { return &v }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// findingType maps an alert action to the contract event type.
func findingType(action string) string {
	switch action {
	case "created":
		return "security.finding.opened"
	case "fixed":
		return "security.finding.fixed"
	case "closed_by_user", "dismissed", "auto_dismissed":
		return "security.finding.dismissed"
	case "reopened", "reopened_by_user", "reintroduced", "auto_reopened":
		return "security.finding.reopened"
	}
	return "security.finding.updated" // appeared_in_branch, closed_by_user variants, ...
}

func findingStatus(state string) (string, error) {
	switch state {
	case "open":
		return "open", nil
	case "fixed":
		return "fixed", nil
	case "dismissed", "auto_dismissed":
		return "dismissed", nil
	}
	return "", fmt.Errorf("alert state %q has no contract status", state)
}

// eventTime is the moment the change happened: the timestamp the payload
// gives for it, else when the webhook arrived.
func eventTime(received time.Time, candidates ...*time.Time) (time.Time, error) {
	for _, c := range candidates {
		if c != nil && !c.IsZero() {
			return *c, nil
		}
	}
	if received.IsZero() {
		return time.Time{}, errors.New("payload has no timestamp for the change and Delivery.Received is zero")
	}
	return received, nil
}

// codeScanningSeverity: security_severity_level when the rule has one (a
// security query), else the rule's level: error high, warning medium,
// note low, none info.
func codeScanningSeverity(level, severity string) string {
	switch level {
	case "critical", "high", "medium", "low":
		return level
	}
	switch severity {
	case "error":
		return "high"
	case "warning":
		return "medium"
	case "note":
		return "low"
	}
	return "info"
}

// cweFromTags reads CodeQL's external/cwe/cwe-089 tags.
func cweFromTags(tags []string) *string {
	for _, t := range tags {
		if n, ok := strings.CutPrefix(t, "external/cwe/cwe-"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return ptr("CWE-" + strconv.Itoa(v))
			}
		}
	}
	return nil
}

func (o Options) codeScanning(p *payload, received time.Time) (string, time.Time, any, error) {
	a := &p.Alert
	status, err := findingStatus(a.State)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	if a.CreatedAt == nil {
		return "", time.Time{}, nil, errors.New("code_scanning_alert: alert has no created_at")
	}
	typ := findingType(p.Action)
	var at time.Time
	switch status {
	case "fixed":
		at, err = eventTime(received, a.FixedAt)
	case "dismissed":
		at, err = eventTime(received, a.DismissedAt)
	default:
		if p.Action == "created" {
			at, err = eventTime(received, a.CreatedAt)
		} else {
			at, err = eventTime(received, a.UpdatedAt)
		}
	}
	if err != nil {
		return "", time.Time{}, nil, err
	}
	f := &schemas.Finding{
		FindingID:  fmt.Sprintf("github:%s/code-scanning/%d", p.Repository.FullName, a.Number),
		Scanner:    "github-code-scanning/" + strings.ToLower(or(a.Tool.Name, "unknown")),
		Category:   "sast",
		Title:      nonEmpty(or(a.Rule.Description, a.Rule.ID)),
		CWEID:      cweFromTags(a.Rule.Tags),
		Severity:   codeScanningSeverity(a.Rule.SecuritySeverityLevel, a.Rule.Severity),
		ServiceID:  o.service(p.Repository.FullName),
		Repo:       ptr(p.Repository.FullName),
		Status:     status,
		DetectedAt: a.CreatedAt.UTC(),
	}
	o.closeFinding(f, at, a.FixedAt, a.DismissedAt, a.DismissedReason)
	return typ, at, f, nil
}

// closeFinding sets fixed_at/dismissed_at for closed findings: GitHub's own
// timestamp, else the event time (the change happened by then).
func (o Options) closeFinding(f *schemas.Finding, at time.Time, fixedAt, dismissedAt *time.Time, reason *string) {
	switch f.Status {
	case "fixed":
		t, _ := eventTime(at, fixedAt)
		f.FixedAt = ptr(t.UTC())
	case "dismissed":
		t, _ := eventTime(at, dismissedAt)
		f.DismissedAt = ptr(t.UTC())
		if reason != nil && *reason != "" {
			f.DismissedReason = reason
		}
	}
}

func (o Options) dependabot(p *payload, received time.Time) (string, time.Time, any, error) {
	a := &p.Alert
	status, err := findingStatus(a.State)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	if a.CreatedAt == nil {
		return "", time.Time{}, nil, errors.New("dependabot_alert: alert has no created_at")
	}
	adv := &a.SecurityAdvisory
	sev := adv.Severity
	if sev == "moderate" {
		sev = "medium"
	}
	switch sev {
	case "critical", "high", "medium", "low":
	default:
		return "", time.Time{}, nil, fmt.Errorf("dependabot_alert: advisory severity %q has no contract severity", adv.Severity)
	}
	dismissedAt := a.DismissedAt
	if dismissedAt == nil {
		dismissedAt = a.AutoDismissedAt
	}
	var at time.Time
	switch status {
	case "fixed":
		at, err = eventTime(received, a.FixedAt, a.UpdatedAt)
	case "dismissed":
		at, err = eventTime(received, dismissedAt, a.UpdatedAt)
	default:
		if p.Action == "created" {
			at, err = eventTime(received, a.CreatedAt)
		} else {
			at, err = eventTime(received, a.UpdatedAt)
		}
	}
	if err != nil {
		return "", time.Time{}, nil, err
	}
	f := &schemas.Finding{
		FindingID:  fmt.Sprintf("github:%s/dependabot/%d", p.Repository.FullName, a.Number),
		Scanner:    "github-dependabot",
		Category:   "sca",
		Title:      nonEmpty(adv.Summary),
		CVEID:      adv.CVEID,
		Severity:   sev,
		ServiceID:  o.service(p.Repository.FullName),
		Repo:       ptr(p.Repository.FullName),
		Status:     status,
		DetectedAt: a.CreatedAt.UTC(),
	}
	if adv.CVSS.Score > 0 {
		f.CVSS = ptr(adv.CVSS.Score)
	}
	if len(adv.EPSS) > 0 {
		f.EPSS = ptr(adv.EPSS[0].Percentage)
	}
	if len(adv.CWEs) > 0 {
		f.CWEID = nonEmpty(adv.CWEs[0].CWEID)
	}
	reason := a.DismissedReason
	if a.DismissedComment != nil && *a.DismissedComment != "" {
		reason = ptr(or(deref(reason), "dismissed") + ": " + *a.DismissedComment)
	}
	o.closeFinding(f, at, a.FixedAt, dismissedAt, reason)
	return findingType(p.Action), at, f, nil
}

func (o Options) deployment(p *payload) (string, time.Time, any, error) {
	d, s := &p.Deployment, &p.DeploymentStatus
	var status, typ string
	switch s.State {
	case "success":
		status, typ = "success", "deployment.finished"
	case "failure", "error":
		status, typ = "failure", "deployment.finished"
	case "pending", "queued", "in_progress":
		status, typ = "in_progress", "deployment.started"
	default: // inactive: an older deployment was superseded, no new fact
		return "", time.Time{}, nil, ErrSkip
	}
	if d.ID == 0 || d.CreatedAt.IsZero() || s.CreatedAt.IsZero() {
		return "", time.Time{}, nil, errors.New("deployment_status: deployment id or timestamps missing")
	}
	trigger := o.Trigger
	if trigger == nil {
		trigger = defaultTrigger
	}
	dep := &schemas.Deployment{
		DeploymentID: fmt.Sprintf("github:%s/deployments/%d", p.Repository.FullName, d.ID),
		ServiceID:    o.service(p.Repository.FullName),
		Environment:  or(s.Environment, d.Environment),
		CommitSHA:    nonEmpty(d.SHA),
		StartedAt:    d.CreatedAt.UTC(),
		Status:       status,
		Trigger:      trigger(d.Task, deref(d.Description), d.Ref),
	}
	if typ == "deployment.finished" {
		dep.FinishedAt = ptr(s.CreatedAt.UTC())
	}
	return typ, s.CreatedAt, dep, nil
}

func defaultTrigger(task, description, ref string) string {
	if strings.Contains(strings.ToLower(task+" "+description), "rollback") {
		return "rollback"
	}
	return "feature"
}

func (o Options) workflowJob(p *payload) (string, time.Time, any, error) {
	j := &p.WorkflowJob
	if o.Gate == nil || p.Action != "completed" || j.Status != "completed" || j.Conclusion == nil {
		return "", time.Time{}, nil, ErrSkip // not a finished gate evaluation
	}
	gate, blocking := o.Gate(j.WorkflowName, j.Name)
	if !gate {
		return "", time.Time{}, nil, ErrSkip
	}
	var result string
	switch *j.Conclusion {
	case "success":
		result = "pass"
	case "failure":
		result = "fail"
	default: // cancelled, skipped, neutral, timed_out...: no verdict
		return "", time.Time{}, nil, ErrSkip
	}
	if j.StartedAt == nil || j.CompletedAt == nil {
		return "", time.Time{}, nil, errors.New("workflow_job: completed job without started_at/completed_at")
	}
	g := &schemas.GateEvaluation{
		RunID:       fmt.Sprintf("github:%s/actions/runs/%d/attempts/%d/jobs/%d", p.Repository.FullName, j.RunID, j.RunAttempt, j.ID),
		ServiceID:   o.service(p.Repository.FullName),
		CommitSHA:   nonEmpty(j.HeadSHA),
		Tool:        j.WorkflowName + "/" + j.Name,
		Result:      result,
		Blocking:    blocking,
		StartedAt:   j.StartedAt.UTC(),
		CompletedAt: j.CompletedAt.UTC(),
	}
	return "security.gate.evaluated", *j.CompletedAt, g, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
