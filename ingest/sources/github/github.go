// Package github maps GitHub webhook deliveries onto contract v1 events
// (see Map for the table). Where GitHub does not say what the contract
// needs (which service a repository is, which jobs are security gates) the
// mapping file decides; nothing is guessed silently.
//
// Event ids: when the payload dates the change (an alert's fixed_at, a
// deployment status's created_at) the id is sources.ChangeID of the entity,
// type and that time, so a redelivery, a second webhook for the same change
// and an import of the same alert are one event. When it does not (a code
// scanning alert's fixed action carries no fixed_at) the event time is the
// delivery's arrival and the id derives from a hash of the signed body. Not
// from the X-GitHub-Delivery GUID: that header is outside the signature, so
// a captured delivery replayed with a fresh GUID would otherwise become a new
// event (a stale "reopened" re-opening a fixed finding); and the same change
// sent to a repository hook and an organization hook, two GUIDs, is one
// event. GitHub's redelivery resends the same body, so it keeps its id.
package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// System is the source system name in event ids and the mapping file.
const System = "github"

// Source is the CloudEvents source attribute of events about repo
// (owner/name). With the id it is the event's identity, so the gateway and
// the importer build it alike.
func Source(repo string) string { return "https://github.com/" + repo }

// Delivery is one webhook delivery.
type Delivery struct {
	Event    string    // X-GitHub-Event header, e.g. code_scanning_alert
	Received time.Time // arrival: the event time when the payload dates nothing
	Body     []byte    // as signed; undated changes take their id from its hash
}

// Map maps one delivery:
//
//	code_scanning_alert              security.finding.* (category sast)
//	dependabot_alert                 security.finding.* (sca)
//	repository_vulnerability_alert   security.finding.* (sca; the same finding as dependabot_alert)
//	secret_scanning_alert            security.finding.* (secret)
//	deployment                       deployment.started
//	deployment_status                deployment.started / deployment.finished
//	workflow_job (completed)         security.gate.evaluated, for jobs the mapping file names as gates
//	workflow_run (completed)         security.gate.evaluated, for whole workflows named as gates
//	deployment_review (approved,
//	  rejected)                      security.gate.evaluated, for environments named as gates
//
// Alert actions map to opened (created), fixed, dismissed (closed_by_user,
// dismissed, auto_dismissed, resolved other than revoked), reopened
// (reopened, reopened_by_user, reintroduced, auto_reopened) and updated
// (anything else that changes the alert). Every other event, and deliveries
// that carry no contract fact (a waiting job, an inactive deployment
// status), are ignored with the reason. An error means the payload is not
// what GitHub documents (bad JSON, no repository, an alert without
// created_at).
func Map(m *mapping.File, d Delivery) (sources.Result, error) {
	switch d.Event {
	case "ping":
		return sources.Ignore("ping: GitHub checks the webhook works"), nil
	case "deployment_protection_rule":
		return sources.Ignore("deployment_protection_rule: a custom rule's verdict is given through its callback, not sent as a webhook; the deployment's statuses record the outcome"), nil
	}
	h, ok := handlers[d.Event]
	if !ok {
		return sources.Ignore("event %q carries nothing for the contract", d.Event), nil
	}
	var p payload
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return sources.Result{}, fmt.Errorf("decode %s webhook: %w", d.Event, err)
	}
	if p.Repository.FullName == "" {
		return sources.Result{}, fmt.Errorf("%s webhook: no repository.full_name", d.Event)
	}
	sum := sha256.Sum256(d.Body)
	key := "sha256:" + hex.EncodeToString(sum[:16])
	x := &mapper{m: mappingOrDefault(m), repo: p.Repository.FullName, received: d.Received, key: key}
	return h(x, &p)
}

var handlers = map[string]func(*mapper, *payload) (sources.Result, error){
	"code_scanning_alert": func(x *mapper, p *payload) (sources.Result, error) {
		return x.codeScanning(p.Action, &p.Alert)
	},
	"dependabot_alert": func(x *mapper, p *payload) (sources.Result, error) {
		return x.dependabot(p.Action, &p.Alert)
	},
	"repository_vulnerability_alert": func(x *mapper, p *payload) (sources.Result, error) {
		return x.vulnerabilityAlert(p.Action, &p.Alert)
	},
	"secret_scanning_alert": func(x *mapper, p *payload) (sources.Result, error) {
		return x.secretScanning(p.Action, &p.Alert)
	},
	"deployment":        (*mapper).deploymentCreated,
	"deployment_status": (*mapper).deploymentStatus,
	"workflow_job":      (*mapper).workflowJob,
	"workflow_run":      (*mapper).workflowRun,
	"deployment_review": (*mapper).deploymentReview,
}

var defaultMapping mapping.File

func mappingOrDefault(m *mapping.File) *mapping.File {
	if m == nil {
		return &defaultMapping
	}
	return m
}

// mapper maps the payloads of one repository.
type mapper struct {
	m        *mapping.File
	repo     string
	received time.Time
	key      string // hash of the delivery's body, or an imported record's id
}

func (x *mapper) service() string { return x.m.Service(mapping.GitHub, x.repo, x.repo) }

// event builds an event. dated says at is the change's own time from the
// payload; otherwise at is the arrival time and the id comes from the
// delivery.
func (x *mapper) event(typ string, at time.Time, dated bool, data schemas.Payload) sources.Event {
	id := sources.ChangeID(System, data.EntityID(), typ, at)
	if !dated {
		id = sources.EventID(System, "delivery", x.key, data.EntityID(), typ)
	}
	return sources.Event{ID: id, Source: Source(x.repo), Type: typ, Time: at.UTC(), Data: data}
}

// when returns the first non-zero candidate (dated), else the arrival time.
func (x *mapper) when(candidates ...sources.Time) (time.Time, bool, error) {
	for _, c := range candidates {
		if !c.IsZero() {
			return c.Time, true, nil
		}
	}
	if x.received.IsZero() {
		return time.Time{}, false, fmt.Errorf("the payload dates nothing and the delivery's arrival time is unknown")
	}
	return x.received.UTC(), false, nil
}

// payload is the part of the webhook bodies the mapper reads.
type payload struct {
	Action     string `json:"action"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Alert            Alert            `json:"alert"`
	Deployment       Deployment       `json:"deployment"`
	DeploymentStatus DeploymentStatus `json:"deployment_status"`
	WorkflowJob      WorkflowJob      `json:"workflow_job"`
	WorkflowRun      WorkflowRun      `json:"workflow_run"`
	// deployment_review
	Since           sources.Time `json:"since"`
	WorkflowJobRun  *JobRun      `json:"workflow_job_run"`
	WorkflowJobRuns []JobRun     `json:"workflow_job_runs"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
