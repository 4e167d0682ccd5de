package github

import (
	"fmt"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// WorkflowJob is a GitHub Actions job.
type WorkflowJob struct {
	ID           int64        `json:"id"`
	RunID        int64        `json:"run_id"`
	RunAttempt   int64        `json:"run_attempt"`
	WorkflowName string       `json:"workflow_name"`
	Name         string       `json:"name"`
	HeadSHA      string       `json:"head_sha"`
	Status       string       `json:"status"`
	Conclusion   *string      `json:"conclusion"`
	StartedAt    sources.Time `json:"started_at"`
	CompletedAt  sources.Time `json:"completed_at"`
}

// WorkflowRun is a GitHub Actions workflow run.
type WorkflowRun struct {
	ID           int64        `json:"id"`
	Name         string       `json:"name"`
	RunAttempt   int64        `json:"run_attempt"`
	HeadSHA      string       `json:"head_sha"`
	Status       string       `json:"status"`
	Conclusion   *string      `json:"conclusion"`
	RunStartedAt sources.Time `json:"run_started_at"`
	CreatedAt    sources.Time `json:"created_at"`
	UpdatedAt    sources.Time `json:"updated_at"`
}

// JobRun is a job waiting on a deployment review (deployment_review).
type JobRun struct {
	ID          int64        `json:"id"`
	Name        string       `json:"name"`
	Environment string       `json:"environment"`
	Status      string       `json:"status"`
	Conclusion  *string      `json:"conclusion"`
	CreatedAt   sources.Time `json:"created_at"`
	UpdatedAt   sources.Time `json:"updated_at"`
}

// verdict maps a check conclusion to a gate result: success passes,
// failure fails; cancelled, skipped, neutral, timed_out and
// action_required give no verdict.
func verdict(conclusion *string) (string, bool) {
	switch deref(conclusion) {
	case "success":
		return "pass", true
	case "failure":
		return "fail", true
	}
	return "", false
}

func (x *mapper) gate(runID, commit string, g mapping.GateMatch, result string, started, completed time.Time, dated bool) sources.Result {
	ge := &schemas.GateEvaluation{
		RunID:       runID,
		ServiceID:   x.service(),
		CommitSHA:   sources.NonEmpty(commit),
		Tool:        g.Tool,
		Result:      result,
		Blocking:    g.Blocking,
		StartedAt:   started.UTC(),
		CompletedAt: completed.UTC(),
	}
	return sources.Mapped(x.event("security.gate.evaluated", completed, dated, ge))
}

func (x *mapper) workflowJob(p *payload) (sources.Result, error) {
	j := &p.WorkflowJob
	g, ok := x.m.Gate(mapping.GateQuery{Source: mapping.GitHub, Repo: x.repo, Workflow: j.WorkflowName, Job: j.Name})
	if !ok {
		return sources.Ignore("workflow_job %q/%q: not a security gate in the mapping file", j.WorkflowName, j.Name), nil
	}
	if p.Action != "completed" || j.Status != "completed" {
		return sources.Ignore("workflow_job %s: no verdict yet", sources.Or(p.Action, j.Status)), nil
	}
	result, ok := verdict(j.Conclusion)
	if !ok {
		return sources.Ignore("workflow_job concluded %q: no gate verdict", deref(j.Conclusion)), nil
	}
	if j.StartedAt.IsZero() || j.CompletedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("workflow_job: completed job without started_at/completed_at")
	}
	runID := fmt.Sprintf("github:%s/actions/runs/%d/attempts/%d/jobs/%d", x.repo, j.RunID, max(j.RunAttempt, 1), j.ID)
	return x.gate(runID, j.HeadSHA, g, result, j.StartedAt.Time, j.CompletedAt.Time, true), nil
}

func (x *mapper) workflowRun(p *payload) (sources.Result, error) {
	r := &p.WorkflowRun
	g, ok := x.m.Gate(mapping.GateQuery{Source: mapping.GitHub, Repo: x.repo, Workflow: r.Name})
	if !ok {
		return sources.Ignore("workflow_run %q: not a security gate in the mapping file", r.Name), nil
	}
	if p.Action != "completed" || r.Status != "completed" {
		return sources.Ignore("workflow_run %s: no verdict yet", sources.Or(p.Action, r.Status)), nil
	}
	result, ok := verdict(r.Conclusion)
	if !ok {
		return sources.Ignore("workflow_run concluded %q: no gate verdict", deref(r.Conclusion)), nil
	}
	started := r.RunStartedAt
	if started.IsZero() {
		started = r.CreatedAt
	}
	if started.IsZero() || r.UpdatedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("workflow_run: completed run without run_started_at/updated_at")
	}
	runID := fmt.Sprintf("github:%s/actions/runs/%d/attempts/%d", x.repo, r.ID, max(r.RunAttempt, 1))
	return x.gate(runID, r.HeadSHA, g, result, started.Time, r.UpdatedAt.Time, true), nil
}

// deploymentReview maps an approved or rejected deployment review of an
// environment the mapping file names as a gate: one evaluation per job
// that waited on it, from the review request (since) to the decision. Its
// duration is the wait the gate caused.
func (x *mapper) deploymentReview(p *payload) (sources.Result, error) {
	var result string
	switch p.Action {
	case "approved":
		result = "pass"
	case "rejected":
		result = "fail"
	default:
		return sources.Ignore("deployment_review %q: no verdict yet", p.Action), nil
	}
	runs := p.WorkflowJobRuns
	if len(runs) == 0 && p.WorkflowJobRun != nil {
		runs = []JobRun{*p.WorkflowJobRun}
	}
	if len(runs) == 0 {
		return sources.Result{}, fmt.Errorf("deployment_review: no workflow_job_runs")
	}
	if p.Since.IsZero() {
		return sources.Result{}, fmt.Errorf("deployment_review: no since")
	}
	var out sources.Result
	for _, jr := range runs {
		g, ok := x.m.Gate(mapping.GateQuery{Source: mapping.GitHub, Repo: x.repo, Workflow: p.WorkflowRun.Name, Environment: jr.Environment})
		if !ok {
			out.Add(sources.Ignore("deployment_review of environment %q: not a security gate in the mapping file", jr.Environment))
			continue
		}
		decided, dated, err := x.when(jr.UpdatedAt)
		if err != nil {
			return sources.Result{}, fmt.Errorf("deployment_review: %w", err)
		}
		if decided.Before(p.Since.Time) {
			decided = p.Since.Time
		}
		runID := fmt.Sprintf("github:%s/actions/runs/%d/reviews/%d", x.repo, p.WorkflowRun.ID, jr.ID)
		out.Add(x.gate(runID, p.WorkflowRun.HeadSHA, g, result, p.Since.Time, decided, dated))
	}
	return out, nil
}
