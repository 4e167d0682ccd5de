package github

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

var received = time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)

func shared(t *testing.T, name string) []byte { return sourcetest.Shared(t, "github", name+".json") }
func local(t *testing.T, name string) []byte  { return sourcetest.Local(t, name+".json") }

func testMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Parse("test.yaml", []byte(`
version: 1
services:
  - id: payments-api
    github: acme/payments
gates:
  - source: github
    workflow: Env Test
    job: test
  - source: github
    workflow: Security scan
    tool: semgrep
  - source: github
    environment: production
    blocking: false
`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMap is a table test of every mapped kind: each case names its
// payload, the expected type and what it must carry; every mapped event is
// run through the contract decoder and kept as a golden file.
func TestMap(t *testing.T) {
	m := testMapping(t)
	type check func(t *testing.T, p schemas.Payload)
	finding := func(status, category, severity string, extra func(f *schemas.Finding) bool) check {
		return func(t *testing.T, p schemas.Payload) {
			f := p.(*schemas.Finding)
			if f.Status != status || f.Category != category || f.Severity != severity || (extra != nil && !extra(f)) {
				t.Errorf("%+v", f)
			}
			if (status == "fixed") != (f.FixedAt != nil) || (status == "dismissed") != (f.DismissedAt != nil) {
				t.Errorf("closing time does not match status: %+v", f)
			}
		}
	}
	at := func(p *time.Time, want string) bool { return p != nil && p.Format(time.RFC3339) == want }
	cases := []struct {
		name  string // golden file
		event string
		body  []byte
		typ   string
		check check
	}{
		{"code_scanning_alert.created", "code_scanning_alert", shared(t, "code_scanning_alert.created"), "security.finding.opened",
			finding("open", "sast", "high", func(f *schemas.Finding) bool {
				return f.ServiceID == "Codertocat/Hello-World" && f.FindingID == "github:Codertocat/Hello-World/code-scanning/10"
			})},
		{"code_scanning_alert.fixed", "code_scanning_alert", shared(t, "code_scanning_alert.fixed"), "security.finding.fixed",
			// No fixed_at in the payload: the arrival time bounds it.
			finding("fixed", "sast", "high", func(f *schemas.Finding) bool { return f.FixedAt.Equal(received) })},
		{"code_scanning_alert.security_severity", "code_scanning_alert",
			sourcetest.Edit(t, shared(t, "code_scanning_alert.created"), map[string]any{"alert.rule.security_severity_level": "critical",
				"alert.rule.tags": []string{"security", "external/cwe/cwe-089"}}), "security.finding.opened",
			finding("open", "sast", "critical", func(f *schemas.Finding) bool { return *f.CWEID == "CWE-89" })},
		{"code_scanning_alert.dismissed", "code_scanning_alert",
			sourcetest.Edit(t, shared(t, "code_scanning_alert.created"), map[string]any{"action": "closed_by_user", "alert.state": "dismissed",
				"alert.dismissed_at": "2021-02-12T10:00:00Z", "alert.dismissed_reason": "false positive"}), "security.finding.dismissed",
			finding("dismissed", "sast", "high", func(f *schemas.Finding) bool {
				return at(f.DismissedAt, "2021-02-12T10:00:00Z") && *f.DismissedReason == "false positive"
			})},
		{"code_scanning_alert.reopened", "code_scanning_alert",
			sourcetest.Edit(t, shared(t, "code_scanning_alert.created"), map[string]any{"action": "reopened_by_user", "alert.updated_at": "2021-03-01T08:00:00Z"}),
			"security.finding.reopened", finding("open", "sast", "high", nil)},
		{"code_scanning_alert.appeared_in_branch", "code_scanning_alert",
			sourcetest.Edit(t, shared(t, "code_scanning_alert.created"), map[string]any{"action": "appeared_in_branch", "alert.updated_at": "2021-03-02T08:00:00Z"}),
			"security.finding.updated", finding("open", "sast", "high", nil)},
		{"dependabot_alert.created", "dependabot_alert", shared(t, "dependabot_alert.created"), "security.finding.opened",
			finding("open", "sca", "medium", func(f *schemas.Finding) bool {
				return *f.CVEID == "CVE-2022-25883" && *f.CVSS == 5.3 && *f.CWEID == "CWE-1333" && f.FindingID == "github:wolfy1339/pika-pack/dependabot/20"
			})},
		{"dependabot_alert.fixed", "dependabot_alert",
			sourcetest.Edit(t, shared(t, "dependabot_alert.created"), map[string]any{"action": "fixed", "alert.state": "fixed",
				"alert.fixed_at": "2023-07-01T08:00:00Z", "alert.security_advisory.severity": "moderate"}), "security.finding.fixed",
			finding("fixed", "sca", "medium", func(f *schemas.Finding) bool { return at(f.FixedAt, "2023-07-01T08:00:00Z") })},
		{"dependabot_alert.dismissed", "dependabot_alert",
			sourcetest.Edit(t, shared(t, "dependabot_alert.created"), map[string]any{"action": "dismissed", "alert.state": "dismissed",
				"alert.dismissed_at": "2023-07-02T08:00:00Z", "alert.dismissed_reason": "tolerable_risk", "alert.dismissed_comment": "dev only"}),
			"security.finding.dismissed", finding("dismissed", "sca", "medium", func(f *schemas.Finding) bool {
				return *f.DismissedReason == "tolerable_risk: dev only"
			})},
		{"dependabot_alert.auto_dismissed", "dependabot_alert",
			sourcetest.Edit(t, shared(t, "dependabot_alert.created"), map[string]any{"action": "auto_dismissed", "alert.state": "auto_dismissed",
				"alert.auto_dismissed_at": "2023-07-03T08:00:00Z"}),
			"security.finding.dismissed", finding("dismissed", "sca", "medium", func(f *schemas.Finding) bool { return at(f.DismissedAt, "2023-07-03T08:00:00Z") })},
		{"dependabot_alert.reintroduced", "dependabot_alert",
			sourcetest.Edit(t, shared(t, "dependabot_alert.created"), map[string]any{"action": "reintroduced", "alert.updated_at": "2023-08-01T08:00:00Z"}),
			"security.finding.reopened", finding("open", "sca", "medium", nil)},
		{"repository_vulnerability_alert.create", "repository_vulnerability_alert", local(t, "repository_vulnerability_alert.create"),
			"security.finding.opened", finding("open", "sca", "high", func(f *schemas.Finding) bool {
				return f.FindingID == "github:acme/payments/dependabot/12" && *f.CVEID == "CVE-2021-23337" && f.ServiceID == "payments-api"
			})},
		{"repository_vulnerability_alert.resolve", "repository_vulnerability_alert",
			sourcetest.Edit(t, local(t, "repository_vulnerability_alert.create"), map[string]any{"action": "resolve", "alert.fixed_at": "2025-01-22T09:00:00Z"}),
			"security.finding.fixed", finding("fixed", "sca", "high", nil)},
		{"repository_vulnerability_alert.dismiss", "repository_vulnerability_alert",
			sourcetest.Edit(t, local(t, "repository_vulnerability_alert.create"), map[string]any{"action": "dismiss", "alert.state": "dismissed",
				"alert.dismissed_at": "2025-01-23T09:00:00Z", "alert.dismiss_reason": "No bandwidth to fix this"}),
			"security.finding.dismissed", finding("dismissed", "sca", "high", nil)},
		{"secret_scanning_alert.created", "secret_scanning_alert", local(t, "secret_scanning_alert.created"), "security.finding.opened",
			finding("open", "secret", "high", func(f *schemas.Finding) bool { return *f.Title == "Amazon AWS Access Key ID" })},
		{"secret_scanning_alert.resolved", "secret_scanning_alert", local(t, "secret_scanning_alert.resolved"), "security.finding.dismissed",
			finding("dismissed", "secret", "high", func(f *schemas.Finding) bool {
				return *f.DismissedReason == "false_positive: test fixture key, never valid"
			})},
		{"secret_scanning_alert.revoked", "secret_scanning_alert",
			sourcetest.Edit(t, local(t, "secret_scanning_alert.resolved"), map[string]any{"alert.resolution": "revoked", "alert.resolution_comment": nil}),
			"security.finding.fixed", finding("fixed", "secret", "high", func(f *schemas.Finding) bool { return at(f.FixedAt, "2025-02-04T16:40:02Z") })},
		{"secret_scanning_alert.reopened", "secret_scanning_alert",
			sourcetest.Edit(t, local(t, "secret_scanning_alert.created"), map[string]any{"action": "reopened", "alert.updated_at": "2025-02-05T10:00:00Z"}),
			"security.finding.reopened", finding("open", "secret", "high", nil)},
		// GitHub's other secret scanning actions change nothing the
		// contract holds but the alert's last update.
		{"secret_scanning_alert.validated", "secret_scanning_alert",
			sourcetest.Edit(t, local(t, "secret_scanning_alert.created"), map[string]any{"action": "validated", "alert.validity": "inactive", "alert.updated_at": "2025-02-05T11:00:00Z"}),
			"security.finding.updated", finding("open", "secret", "high", nil)},
		{"secret_scanning_alert.publicly_leaked", "secret_scanning_alert",
			sourcetest.Edit(t, local(t, "secret_scanning_alert.created"), map[string]any{"action": "publicly_leaked", "alert.publicly_leaked": true, "alert.updated_at": "2025-02-05T12:00:00Z"}),
			"security.finding.updated", finding("open", "secret", "high", nil)},
		{"secret_scanning_alert.assigned", "secret_scanning_alert",
			sourcetest.Edit(t, local(t, "secret_scanning_alert.created"), map[string]any{"action": "assigned", "alert.updated_at": "2025-02-05T13:00:00Z"}),
			"security.finding.updated", finding("open", "secret", "high", nil)},
		{"code_scanning_alert.updated_assignment", "code_scanning_alert",
			sourcetest.Edit(t, shared(t, "code_scanning_alert.created"), map[string]any{"action": "updated_assignment", "alert.updated_at": "2021-03-03T08:00:00Z"}),
			"security.finding.updated", finding("open", "sast", "high", nil)},
		{"deployment_status", "deployment_status", shared(t, "deployment_status"), "deployment.finished", func(t *testing.T, p schemas.Payload) {
			d := p.(*schemas.Deployment)
			if d.Status != "success" || d.Environment != "production" || d.ServiceID != "Codertocat/Hello-World" || d.Trigger != "feature" ||
				d.FinishedAt == nil || d.FinishedAt.Sub(d.StartedAt) != 2*time.Second {
				t.Errorf("%+v", d)
			}
		}},
		{"deployment_status.failure", "deployment_status",
			sourcetest.Edit(t, shared(t, "deployment_status"), map[string]any{"deployment_status.state": "error"}), "deployment.finished",
			func(t *testing.T, p schemas.Payload) {
				if d := p.(*schemas.Deployment); d.Status != "failure" {
					t.Errorf("%+v", d)
				}
			}},
		{"deployment_status.pending", "deployment_status",
			sourcetest.Edit(t, shared(t, "deployment_status"), map[string]any{"deployment_status.state": "pending", "deployment.task": "deploy:rollback"}),
			"deployment.started", func(t *testing.T, p schemas.Payload) {
				d := p.(*schemas.Deployment)
				if d.Status != "in_progress" || d.FinishedAt != nil || d.Trigger != "rollback" {
					t.Errorf("%+v", d)
				}
			}},
		{"deployment.created", "deployment", local(t, "deployment.created"), "deployment.started", func(t *testing.T, p schemas.Payload) {
			d := p.(*schemas.Deployment)
			if d.Status != "in_progress" || d.ServiceID != "payments-api" || d.DeploymentID != "github:acme/payments/deployments/1849224571" {
				t.Errorf("%+v", d)
			}
		}},
		{"workflow_job.completed_gate", "workflow_job",
			sourcetest.Edit(t, shared(t, "workflow_job.waiting"), map[string]any{"action": "completed", "workflow_job.status": "completed",
				"workflow_job.conclusion": "failure", "workflow_job.completed_at": "2023-04-19T21:14:00Z"}), "security.gate.evaluated",
			func(t *testing.T, p schemas.Payload) {
				g := p.(*schemas.GateEvaluation)
				if g.Result != "fail" || !g.Blocking || *g.CommitSHA != "16c5286e8d9a0629956a28938386b36608707a71" ||
					g.CompletedAt.Sub(g.StartedAt) != 108*time.Second || g.Tool != "Env Test/test" {
					t.Errorf("%+v", g)
				}
			}},
		{"workflow_run.completed", "workflow_run", local(t, "workflow_run.completed"), "security.gate.evaluated", func(t *testing.T, p schemas.Payload) {
			g := p.(*schemas.GateEvaluation)
			if g.Result != "fail" || g.Tool != "semgrep" || g.ServiceID != "payments-api" || g.CompletedAt.Sub(g.StartedAt) != 382*time.Second {
				t.Errorf("%+v", g)
			}
		}},
		{"deployment_review.approved", "deployment_review", local(t, "deployment_review.approved"), "security.gate.evaluated", func(t *testing.T, p schemas.Payload) {
			g := p.(*schemas.GateEvaluation)
			if g.Result != "pass" || g.Blocking || g.Tool != "deployment_review/production" || g.CompletedAt.Sub(g.StartedAt) != 46*time.Minute+30*time.Second {
				t.Errorf("%+v", g)
			}
		}},
		{"deployment_review.rejected", "deployment_review",
			sourcetest.Edit(t, local(t, "deployment_review.approved"), map[string]any{"action": "rejected"}), "security.gate.evaluated",
			func(t *testing.T, p schemas.Payload) {
				if g := p.(*schemas.GateEvaluation); g.Result != "fail" {
					t.Errorf("%+v", g)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(m, Delivery{Event: c.event, Received: received, Body: c.body})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Events) != 1 || len(r.Unmapped) != 0 {
				t.Fatalf("want one event, got %+v", r)
			}
			ev := sourcetest.Decode(t, r.Events[0])
			if ev.Type != c.typ {
				t.Errorf("type %s, want %s", ev.Type, c.typ)
			}
			if !strings.HasPrefix(ev.Source, "https://github.com/") {
				t.Errorf("source %s", ev.Source)
			}
			c.check(t, ev.Payload)
			sourcetest.Golden(t, c.name, r)
		})
	}
}

// TestIgnored: deliveries that carry no contract fact are ignored, with a
// reason, never an error.
func TestIgnored(t *testing.T) {
	m := testMapping(t)
	completed := func(conclusion any) []byte {
		return sourcetest.Edit(t, shared(t, "workflow_job.waiting"), map[string]any{"action": "completed", "workflow_job.status": "completed",
			"workflow_job.conclusion": conclusion, "workflow_job.completed_at": "2023-04-19T21:14:00Z"})
	}
	cases := []struct {
		name, event string
		body        []byte
		m           *mapping.File
		reason      string
	}{
		{"waiting job", "workflow_job", shared(t, "workflow_job.waiting"), m, "no verdict yet"},
		{"job not a gate", "workflow_job", completed("failure"), nil, "not a security gate"},
		{"cancelled job", "workflow_job", completed("cancelled"), m, "no gate verdict"},
		{"inactive deployment", "deployment_status", sourcetest.Edit(t, shared(t, "deployment_status"), map[string]any{"deployment_status.state": "inactive"}), m, "superseded"},
		{"run of job-level gate", "workflow_run", sourcetest.Edit(t, local(t, "workflow_run.completed"), map[string]any{"workflow_run.name": "Env Test"}), m, "not a security gate"},
		{"run in progress", "workflow_run", sourcetest.Edit(t, local(t, "workflow_run.completed"), map[string]any{"action": "in_progress", "workflow_run.status": "in_progress"}), m, "no verdict yet"},
		{"review requested", "deployment_review", sourcetest.Edit(t, local(t, "deployment_review.approved"), map[string]any{"action": "requested"}), m, "no verdict yet"},
		{"review of another environment", "deployment_review", local(t, "deployment_review.approved"), nil, "not a security gate"},
		{"protection rule", "deployment_protection_rule", local(t, "deployment_protection_rule.requested"), m, "callback"},
		{"deployment status event", "deployment", sourcetest.Edit(t, local(t, "deployment.created"), map[string]any{"action": "updated"}), m, "only a created deployment"},
		{"ping", "ping", []byte(`{"zen":"Design for failure."}`), m, "ping"},
		// GitHub: "Events for alerts found outside the default branch will
		// return a null value until they are dismissed or fixed."
		{"code scanning alert off the default branch", "code_scanning_alert",
			sourcetest.Edit(t, shared(t, "code_scanning_alert.created"), map[string]any{"alert.state": nil, "ref": "refs/pull/7/merge"}), m, "outside the default branch"},
		{"push", "push", shared(t, "deployment_status"), m, `event "push" carries nothing`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Map(c.m, Delivery{Event: c.event, Received: received, Body: c.body})
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome() != "ignored" || !strings.Contains(r.Ignored, c.reason) {
				t.Errorf("got %+v, want ignored with %q", r, c.reason)
			}
		})
	}
}

// TestSharedFixtures runs every published example payload: each maps to
// events the decoder accepts or is ignored with a reason.
func TestSharedFixtures(t *testing.T) {
	for _, path := range sourcetest.SharedFiles(t, "github") {
		name := filepath.Base(path)
		event, _, _ := strings.Cut(strings.TrimSuffix(name, ".json"), ".")
		t.Run(name, func(t *testing.T) {
			r, err := Map(testMapping(t), Delivery{Event: event, Received: received, Body: sourcetest.Shared(t, "github", name)})
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
	cases := []struct{ event, body string }{
		{"dependabot_alert", `{"repository":`},
		{"dependabot_alert", `{"action":"created","alert":{"number":1,"state":"open","created_at":"2024-01-01T00:00:00Z"}}`}, // no repository
		{"dependabot_alert", `{"action":"created","repository":{"full_name":"a/b"},"alert":{"number":1,"state":"open"}}`},    // no created_at
		{"dependabot_alert", `{"action":"created","repository":{"full_name":"a/b"},"alert":{"number":1,"state":"weird","created_at":"2024-01-01T00:00:00Z"}}`},
		{"code_scanning_alert", `{"action":"created","repository":{"full_name":"a/b"},"alert":{"number":1,"state":"open","created_at":"not a time"}}`},
	}
	for _, c := range cases {
		if r, err := Map(nil, Delivery{Event: c.event, Received: received, Body: []byte(c.body)}); err == nil {
			t.Errorf("%s: no error, got %+v", c.body, r)
		}
	}
}

// TestEventIDs: a redelivery is the same event; a change dated by the
// payload has the same id whatever delivery carried it; an undated change
// takes its id from the signed body, never from the unsigned
// X-GitHub-Delivery header, so replaying a captured delivery under a fresh
// GUID (or receiving it from a repository and an organization hook) is the
// same event, while a different change is a different one.
func TestEventIDs(t *testing.T) {
	body := shared(t, "dependabot_alert.created")
	id := func(event string, recv time.Time, b []byte) string {
		t.Helper()
		r, err := Map(nil, Delivery{Event: event, Received: recv, Body: b})
		if err != nil || len(r.Events) != 1 {
			t.Fatalf("%v %+v", err, r)
		}
		return r.Events[0].ID
	}
	a := id("dependabot_alert", received, body)
	if a != id("dependabot_alert", received.Add(time.Hour), body) {
		t.Error("a dated change changed id with the delivery")
	}
	want := sources.ChangeID(System, "github:wolfy1339/pika-pack/dependabot/20", "security.finding.opened", time.Date(2023, 6, 24, 13, 57, 12, 0, time.UTC))
	if a != want {
		t.Errorf("id %s, want the ChangeID %s an importer computes", a, want)
	}
	fixed := shared(t, "code_scanning_alert.fixed")
	b1 := id("code_scanning_alert", received, fixed)
	if b1 != id("code_scanning_alert", received.Add(time.Hour), fixed) {
		t.Error("an undated change's redelivery (or replay) changed id")
	}
	other := sourcetest.Edit(t, fixed, map[string]any{"commit_oid": "0000000000000000000000000000000000000001"})
	if b1 == id("code_scanning_alert", received, other) {
		t.Error("two different undated changes share an id")
	}
}
