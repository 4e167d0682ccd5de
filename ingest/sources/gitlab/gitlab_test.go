package gitlab

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

var received = time.Date(2025, 3, 6, 9, 0, 0, 0, time.UTC)

func testMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Parse("test.yaml", []byte(`
version: 1
services:
  - id: payments-api
    gitlab: [acme/web/payments]
  - id: release-tools
    gitlab: 31537070
gates:
  - source: gitlab
    stage: test
    job: "*_scanning"
  - source: gitlab
    job: "auto_deploy:*"
    tool: release-gate
  - source: gitlab
    repo: acme/web/*
    tool: pipeline-gate
    blocking: false
`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func shared(t *testing.T, name string) []byte { return sourcetest.Shared(t, "gitlab", name+".json") }
func local(t *testing.T, name string) []byte  { return sourcetest.Local(t, name+".json") }

func TestMap(t *testing.T) {
	m := testMapping(t)
	finding := func(status, typ string, check func(f *schemas.Finding) bool) func(t *testing.T, evs []*schemas.Event) {
		return func(t *testing.T, evs []*schemas.Event) {
			f := evs[0].Payload.(*schemas.Finding)
			if len(evs) != 1 || evs[0].Type != typ || f.Status != status || !check(f) {
				t.Errorf("%s %+v", evs[0].Type, f)
			}
		}
	}
	cases := []struct {
		name, event string
		body        []byte
		check       func(t *testing.T, evs []*schemas.Event)
	}{
		{"vulnerability.detected", "Vulnerability Hook", local(t, "vulnerability"), finding("open", "security.finding.opened", func(f *schemas.Finding) bool {
			return f.FindingID == "gitlab:acme/web/payments/vulnerabilities/621" && f.Category == "sast" && f.Severity == "high" &&
				*f.CWEID == "CWE-89" && f.ServiceID == "payments-api" && f.Scanner == "gitlab-sast"
		})},
		{"vulnerability.confirmed", "Vulnerability Hook", sourcetest.Edit(t, local(t, "vulnerability"), map[string]any{
			"object_attributes.state": "confirmed", "object_attributes.updated_at": "2025-03-05T12:00:00Z"}),
			finding("open", "security.finding.updated", func(f *schemas.Finding) bool { return true })},
		{"vulnerability.resolved", "Vulnerability Hook", sourcetest.Edit(t, local(t, "vulnerability"), map[string]any{
			"object_attributes.state": "resolved", "object_attributes.updated_at": "2025-03-09T12:00:00Z", "object_attributes.resolved_at": "2025-03-09T11:59:00Z"}),
			finding("fixed", "security.finding.fixed", func(f *schemas.Finding) bool { return f.FixedAt.Format(time.RFC3339) == "2025-03-09T11:59:00Z" })},
		{"vulnerability.dismissed", "Vulnerability Hook", sourcetest.Edit(t, local(t, "vulnerability"), map[string]any{
			"object_attributes.state": "dismissed", "object_attributes.updated_at": "2025-03-07T12:00:00Z", "object_attributes.dismissed_at": "2025-03-07T12:00:00Z",
			"object_attributes.report_type": "dependency_scanning", "object_attributes.severity": "unknown",
			"object_attributes.identifiers": []map[string]any{{"external_type": "cve", "external_id": "CVE-2024-26141"}}}),
			finding("dismissed", "security.finding.dismissed", func(f *schemas.Finding) bool {
				return f.Category == "sca" && f.Severity == "info" && *f.CVEID == "CVE-2024-26141"
			})},
		{"job.gate", "Job Hook", shared(t, "job"), func(t *testing.T, evs []*schemas.Event) {
			// "auto_deploy:start" is a gate; the project maps by its numeric id.
			g := evs[0].Payload.(*schemas.GateEvaluation)
			if len(evs) != 1 || g.Result != "pass" || g.Tool != "release-gate" || g.ServiceID != "release-tools" ||
				g.RunID != "gitlab:jsmithy2/release-tools-fake/jobs/3580121225" || g.CompletedAt.Sub(g.StartedAt) != 49*time.Second {
				t.Errorf("%+v", g)
			}
		}},
		{"job.failed", "Job Hook", sourcetest.Edit(t, shared(t, "job"), map[string]any{"build_status": "failed", "build_allow_failure": true}),
			func(t *testing.T, evs []*schemas.Event) {
				if g := evs[0].Payload.(*schemas.GateEvaluation); g.Result != "fail" || g.Blocking {
					t.Errorf("%+v", g)
				}
			}},
		{"pipeline", "Pipeline Hook", local(t, "pipeline"), func(t *testing.T, evs []*schemas.Event) {
			// The pipeline itself (run-level gate) and its two scanning jobs.
			if len(evs) != 3 {
				t.Fatalf("%d events", len(evs))
			}
			p, dep, sec := evs[0].Payload.(*schemas.GateEvaluation), evs[1].Payload.(*schemas.GateEvaluation), evs[2].Payload.(*schemas.GateEvaluation)
			if p.Tool != "pipeline-gate" || p.Result != "fail" || p.Blocking || p.RunID != "gitlab:acme/web/payments/pipelines/88123" {
				t.Errorf("pipeline %+v", p)
			}
			if dep.Tool != "test/dependency_scanning" || dep.Result != "fail" || !dep.Blocking || dep.ServiceID != "payments-api" {
				t.Errorf("job %+v", dep)
			}
			if sec.Result != "pass" || sec.Blocking { // allow_failure
				t.Errorf("job %+v", sec)
			}
		}},
		{"deployment.success", "Deployment Hook", shared(t, "deployment"), func(t *testing.T, evs []*schemas.Event) {
			d := evs[0].Payload.(*schemas.Deployment)
			if evs[0].Type != "deployment.finished" || d.Status != "success" || d.Environment != "staging" ||
				*d.CommitSHA != "279484c09fbe69ededfced8c1bb6e6d24616b468" || d.FinishedAt.Format(time.RFC3339) != "2021-04-28T19:50:00Z" ||
				d.ServiceID != "root/test-deployment-webhooks" {
				t.Errorf("%+v", d)
			}
		}},
		{"deployment.running", "Deployment Hook", sourcetest.Edit(t, shared(t, "deployment"), map[string]any{"status": "running"}),
			func(t *testing.T, evs []*schemas.Event) {
				if d := evs[0].Payload.(*schemas.Deployment); evs[0].Type != "deployment.started" || d.Status != "in_progress" || d.FinishedAt != nil {
					t.Errorf("%+v", d)
				}
			}},
		{"deployment.failed", "Deployment Hook", sourcetest.Edit(t, shared(t, "deployment"), map[string]any{"status": "failed"}),
			func(t *testing.T, evs []*schemas.Event) {
				if d := evs[0].Payload.(*schemas.Deployment); d.Status != "failure" {
					t.Errorf("%+v", d)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(m, Delivery{Event: c.event, Received: received, Body: c.body})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Events) == 0 {
				t.Fatalf("%+v", r)
			}
			var evs []*schemas.Event
			for _, e := range r.Events {
				evs = append(evs, sourcetest.Decode(t, e))
			}
			c.check(t, evs)
			sourcetest.Golden(t, c.name, r)
		})
	}
}

// TestJobAndPipelineAgree: a job in a Job Hook and in its Pipeline Hook is
// one event.
func TestJobAndPipelineAgree(t *testing.T) {
	m := testMapping(t)
	pipe, err := Map(m, Delivery{Body: local(t, "pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	job := sourcetest.Edit(t, shared(t, "job"), map[string]any{"build_id": 990102, "build_name": "dependency_scanning", "build_stage": "test",
		"build_status": "failed", "build_started_at": "2025-03-06 08:03:12 UTC", "build_finished_at": "2025-03-06 08:09:38 UTC",
		"repository.homepage": "https://gitlab.example.com/acme/web/payments", "project_id": 4172})
	r, err := Map(m, Delivery{Body: job})
	if err != nil || len(r.Events) != 1 {
		t.Fatalf("%v %+v", err, r)
	}
	if r.Events[0].ID != pipe.Events[1].ID {
		t.Errorf("job hook %s, pipeline hook %s", r.Events[0].ID, pipe.Events[1].ID)
	}
}

func TestIgnored(t *testing.T) {
	m := testMapping(t)
	cases := []struct {
		name, reason string
		m            *mapping.File
		body         []byte
	}{
		{"created job", "no gate verdict", m, sourcetest.Edit(t, shared(t, "job"), map[string]any{"build_status": "running"})},
		{"job not a gate", "not a security gate", m, shared(t, "build")},
		{"no mapping", "not a security gate", nil, shared(t, "job")},
		{"pipeline without gates", "no finished security gate", nil, local(t, "pipeline")},
		{"created deployment", "not started yet", m, sourcetest.Edit(t, shared(t, "deployment"), map[string]any{"status": "created"})},
		{"push", "carries nothing", m, []byte(`{"object_kind":"push","project":{"path_with_namespace":"a/b"}}`)},
		// Other hooks are ignored whatever their members hold, even names
		// the mapped hooks use with other types.
		{"other hook, other member types", "carries nothing", m, []byte(`{"object_kind":"merge_request","project_id":"n/a","builds":{"x":1},"status":["open"],"build_id":"7"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(c.m, Delivery{Body: c.body})
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome() != "ignored" || !strings.Contains(r.Ignored, c.reason) {
				t.Errorf("got %+v, want ignored with %q", r, c.reason)
			}
		})
	}
}

func TestSharedFixtures(t *testing.T) {
	for _, path := range sourcetest.SharedFiles(t, "gitlab") {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			r, err := Map(testMapping(t), Delivery{Received: received, Body: sourcetest.Shared(t, "gitlab", name)})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range r.Events {
				sourcetest.Decode(t, ev)
			}
			if r.Outcome() == "ignored" && r.Ignored == "" {
				t.Error("ignored without a reason")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, body := range []string{`{`, `{"object_kind":"build"}`,
		`{"object_kind":"vulnerability","object_attributes":{"url":"https://x/y","state":"detected","created_at":"2025-01-01T00:00:00Z"}}`,
		`{"object_kind":"vulnerability","object_attributes":{"url":"https://x/a/b/-/security/vulnerabilities/1","state":"weird","created_at":"2025-01-01T00:00:00Z"}}`,
		`{"object_kind":"deployment","status":"success","project":{"path_with_namespace":"a/b"}}`,
		// Not a URL: an error, not a nil-pointer panic.
		`{"object_kind":"vulnerability","object_attributes":{"url":"http://[::1/a/-/security/vulnerabilities/1","state":"detected","created_at":"2025-01-01T00:00:00Z"}}`,
		`{"object_kind":"vulnerability","object_attributes":{"url":"%zz","state":"detected","created_at":"2025-01-01T00:00:00Z"}}`} {
		if r, err := Map(testMapping(t), Delivery{Body: []byte(body)}); err == nil {
			t.Errorf("%s: %+v", body, r)
		}
	}
}
