package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

var received = time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit returns the fixture with JSON values set at dotted paths.
func edit(t *testing.T, name string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range set {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			cur = cur[p].(map[string]any)
		}
		cur[parts[len(parts)-1]] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConvert(t *testing.T) {
	gate := Options{Gate: func(workflow, job string) (bool, bool) { return workflow == "Env Test" && job == "test", true }}
	cases := []struct {
		name  string // golden file name; "" for no golden
		event string
		body  []byte
		opts  Options
		skip  bool
		typ   string
		check func(t *testing.T, p schemas.Payload)
	}{
		{name: "code_scanning_alert.created", event: "code_scanning_alert", body: fixture(t, "code_scanning_alert.created"),
			typ: "security.finding.opened", check: func(t *testing.T, p schemas.Payload) {
				f := p.(*schemas.Finding)
				if f.Category != "sast" || f.Severity != "high" || f.Status != "open" || f.ServiceID != "Codertocat/Hello-World" ||
					f.SLADueAt == nil || !f.SLADueAt.Equal(f.DetectedAt.Add(30*24*time.Hour)) {
					t.Errorf("%+v", f)
				}
			}},
		{name: "code_scanning_alert.fixed", event: "code_scanning_alert", body: fixture(t, "code_scanning_alert.fixed"),
			typ: "security.finding.fixed", check: func(t *testing.T, p schemas.Payload) {
				f := p.(*schemas.Finding)
				// The fixture has no fixed_at: the arrival time bounds it.
				if f.Status != "fixed" || f.FixedAt == nil || !f.FixedAt.Equal(received) {
					t.Errorf("%+v", f)
				}
			}},
		{name: "code_scanning_alert.security_severity", event: "code_scanning_alert",
			body: edit(t, "code_scanning_alert.created", map[string]any{"alert.rule.security_severity_level": "critical",
				"alert.rule.tags": []string{"security", "external/cwe/cwe-089"}}),
			typ: "security.finding.opened", check: func(t *testing.T, p schemas.Payload) {
				f := p.(*schemas.Finding)
				if f.Severity != "critical" || f.CWEID == nil || *f.CWEID != "CWE-89" {
					t.Errorf("%+v", f)
				}
			}},
		{name: "code_scanning_alert.dismissed", event: "code_scanning_alert",
			body: edit(t, "code_scanning_alert.created", map[string]any{"action": "closed_by_user", "alert.state": "dismissed",
				"alert.dismissed_at": "2021-02-12T10:00:00Z", "alert.dismissed_reason": "false positive"}),
			typ: "security.finding.dismissed", check: func(t *testing.T, p schemas.Payload) {
				f := p.(*schemas.Finding)
				if f.DismissedAt == nil || f.DismissedAt.Format(time.RFC3339) != "2021-02-12T10:00:00Z" || *f.DismissedReason != "false positive" {
					t.Errorf("%+v", f)
				}
			}},
		{name: "dependabot_alert.created", event: "dependabot_alert", body: fixture(t, "dependabot_alert.created"),
			typ: "security.finding.opened", check: func(t *testing.T, p schemas.Payload) {
				f := p.(*schemas.Finding)
				if f.Category != "sca" || f.Severity != "medium" || *f.CVEID != "CVE-2022-25883" || *f.CVSS != 5.3 ||
					*f.CWEID != "CWE-1333" || f.FindingID != "github:wolfy1339/pika-pack/dependabot/20" {
					t.Errorf("%+v", f)
				}
			}},
		{name: "dependabot_alert.fixed", event: "dependabot_alert",
			body: edit(t, "dependabot_alert.created", map[string]any{"action": "fixed", "alert.state": "fixed",
				"alert.fixed_at": "2023-07-01T08:00:00Z", "alert.security_advisory.severity": "moderate"}),
			typ: "security.finding.fixed", check: func(t *testing.T, p schemas.Payload) {
				f := p.(*schemas.Finding)
				if f.Severity != "medium" || f.FixedAt == nil || f.FixedAt.Format(time.RFC3339) != "2023-07-01T08:00:00Z" {
					t.Errorf("%+v", f)
				}
			}},
		{name: "deployment_status", event: "deployment_status", body: fixture(t, "deployment_status"),
			opts: Options{Service: func(repo string) string { return "svc-" + strings.ToLower(repo[strings.IndexByte(repo, '/')+1:]) }},
			typ:  "deployment.finished", check: func(t *testing.T, p schemas.Payload) {
				d := p.(*schemas.Deployment)
				if d.Status != "success" || d.Environment != "production" || d.ServiceID != "svc-hello-world" || d.Trigger != "feature" ||
					d.FinishedAt == nil || d.FinishedAt.Sub(d.StartedAt) != 2*time.Second {
					t.Errorf("%+v", d)
				}
			}},
		{name: "deployment_status.pending", event: "deployment_status",
			body: edit(t, "deployment_status", map[string]any{"deployment_status.state": "pending", "deployment.task": "deploy:rollback"}),
			typ:  "deployment.started", check: func(t *testing.T, p schemas.Payload) {
				d := p.(*schemas.Deployment)
				if d.Status != "in_progress" || d.FinishedAt != nil || d.Trigger != "rollback" {
					t.Errorf("%+v", d)
				}
			}},
		{event: "deployment_status", body: edit(t, "deployment_status", map[string]any{"deployment_status.state": "inactive"}), skip: true},
		{event: "workflow_job", body: fixture(t, "workflow_job.waiting"), opts: gate, skip: true},
		{event: "workflow_job", body: edit(t, "workflow_job.waiting", map[string]any{"action": "completed", "workflow_job.status": "completed",
			"workflow_job.conclusion": "failure", "workflow_job.completed_at": "2023-04-19T21:14:00Z"}), skip: true}, // no Gate option
		{name: "workflow_job.completed_gate", event: "workflow_job", opts: gate,
			body: edit(t, "workflow_job.waiting", map[string]any{"action": "completed", "workflow_job.status": "completed",
				"workflow_job.conclusion": "failure", "workflow_job.completed_at": "2023-04-19T21:14:00Z"}),
			typ: "security.gate.evaluated", check: func(t *testing.T, p schemas.Payload) {
				g := p.(*schemas.GateEvaluation)
				if g.Result != "fail" || !g.Blocking || *g.CommitSHA != "16c5286e8d9a0629956a28938386b36608707a71" || g.CompletedAt.Sub(g.StartedAt) != 108*time.Second {
					t.Errorf("%+v", g)
				}
			}},
		{event: "push", body: fixture(t, "deployment_status"), skip: true},
	}
	for _, c := range cases {
		t.Run(c.event+"/"+c.name, func(t *testing.T) {
			out, err := c.opts.Convert(Delivery{Event: c.event, Received: received, Body: c.body})
			if c.skip {
				if !errors.Is(err, ErrSkip) {
					t.Fatalf("want ErrSkip, got %v %s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev, err := schemas.Decode(out, nil)
			if err != nil {
				t.Fatalf("converted event rejected: %v\n%s", err, out)
			}
			if ev.Type != c.typ || ev.Subject != ev.Payload.EntityID() || !strings.HasPrefix(ev.ID, "sha256:") {
				t.Errorf("envelope %s %s %s", ev.Type, ev.Subject, ev.ID)
			}
			c.check(t, ev.Payload)
			golden := filepath.Join("testdata", "golden", c.name+".json")
			var pretty bytes.Buffer
			json.Indent(&pretty, out, "", "  ")
			pretty.WriteByte('\n')
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(want, pretty.Bytes()) {
				t.Errorf("%s differs (run go test ./schemas/github/ -update):\n%s", golden, pretty.Bytes())
			}
		})
	}
}

// TestDeliveryID: the delivery GUID is the event id, so a redelivery is
// the same event; without it the id is stable for the same body.
func TestDeliveryID(t *testing.T) {
	body := fixture(t, "dependabot_alert.created")
	var o Options
	a, err := o.Convert(Delivery{Event: "dependabot_alert", ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Received: received, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := schemas.Decode(a, nil)
	if err != nil || ev.ID != "72d3162e-cc78-11e3-81ab-4c9367dc0958" || ev.Source != "https://github.com/wolfy1339/pika-pack" {
		t.Fatalf("%v %+v", err, ev)
	}
	b1, _ := o.Convert(Delivery{Event: "dependabot_alert", Received: received, Body: body})
	b2, _ := o.Convert(Delivery{Event: "dependabot_alert", Received: received.Add(time.Hour), Body: body})
	e1, _ := schemas.Decode(b1, nil)
	e2, _ := schemas.Decode(b2, nil)
	if e1.ID != e2.ID || e1.ID == "" {
		t.Errorf("ids %q %q", e1.ID, e2.ID)
	}
	if _, err := o.Convert(Delivery{Event: "dependabot_alert", Body: []byte(`{"repository":`)}); err == nil || errors.Is(err, ErrSkip) {
		t.Errorf("bad JSON: %v", err)
	}
}
