package github

import (
	"fmt"
	"strings"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/schemas"
)

// Deployment is a GitHub deployment.
type Deployment struct {
	ID          int64        `json:"id"`
	SHA         string       `json:"sha"`
	Ref         string       `json:"ref"`
	Task        string       `json:"task"`
	Environment string       `json:"environment"`
	Description *string      `json:"description"`
	CreatedAt   sources.Time `json:"created_at"`
}

// DeploymentStatus is one status of a GitHub deployment.
type DeploymentStatus struct {
	State       string       `json:"state"`
	Environment string       `json:"environment"`
	CreatedAt   sources.Time `json:"created_at"`
}

// deploymentState maps a deployment status state to the contract: pending,
// queued, in_progress and waiting (on a protection rule) mean started;
// success and failure/error finish it; inactive only says a newer
// deployment superseded it.
func deploymentState(state string) (status, typ string, ok bool) {
	switch state {
	case "success":
		return "success", "deployment.finished", true
	case "failure", "error":
		return "failure", "deployment.finished", true
	case "pending", "queued", "in_progress", "waiting":
		return "in_progress", "deployment.started", true
	}
	return "", "", false
}

// trigger says why a deployment happened. GitHub has no such field: a task
// or description naming a rollback is a rollback, one naming a hotfix (or a
// hotfix/ ref) a hotfix, anything else a feature deployment.
func trigger(d *Deployment) string {
	text := strings.ToLower(d.Task + " " + deref(d.Description))
	switch {
	case strings.Contains(text, "rollback") || strings.Contains(text, "roll back"):
		return "rollback"
	case strings.Contains(text, "hotfix") || strings.HasPrefix(strings.ToLower(d.Ref), "hotfix/"):
		return "hotfix"
	}
	return "feature"
}

func (x *mapper) deploymentData(d *Deployment, env, status string) (*schemas.Deployment, error) {
	if d.ID == 0 || d.CreatedAt.IsZero() {
		return nil, fmt.Errorf("deployment id or created_at missing")
	}
	return &schemas.Deployment{
		DeploymentID: fmt.Sprintf("github:%s/deployments/%d", x.repo, d.ID),
		ServiceID:    x.service(),
		Environment:  sources.Or(env, sources.Or(d.Environment, "unknown")),
		CommitSHA:    sources.NonEmpty(d.SHA),
		StartedAt:    d.CreatedAt.UTC(),
		Status:       status,
		Trigger:      trigger(d),
	}, nil
}

func (x *mapper) deploymentCreated(p *payload) (sources.Result, error) {
	if p.Action != "created" {
		return sources.Ignore("deployment %q: only a created deployment is a fact", p.Action), nil
	}
	dep, err := x.deploymentData(&p.Deployment, "", "in_progress")
	if err != nil {
		return sources.Result{}, fmt.Errorf("deployment: %w", err)
	}
	return sources.Mapped(x.event("deployment.started", p.Deployment.CreatedAt.Time, true, dep)), nil
}

func (x *mapper) deploymentStatus(p *payload) (sources.Result, error) {
	s := &p.DeploymentStatus
	status, typ, ok := deploymentState(s.State)
	if !ok {
		return sources.Ignore("deployment_status %q: no new fact (a newer deployment superseded this one)", s.State), nil
	}
	dep, err := x.deploymentData(&p.Deployment, s.Environment, status)
	if err != nil {
		return sources.Result{}, fmt.Errorf("deployment_status: %w", err)
	}
	if s.CreatedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("deployment_status: status has no created_at")
	}
	if typ == "deployment.finished" {
		dep.FinishedAt = sources.Ptr(s.CreatedAt.UTC())
	}
	return sources.Mapped(x.event(typ, s.CreatedAt.Time, true, dep)), nil
}
