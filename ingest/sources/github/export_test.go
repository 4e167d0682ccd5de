package github_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/github"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func importPages(t *testing.T, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, github.Import, m, files...)
}

func TestImportKestrel(t *testing.T) {
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(kestrel + "github/*/*.json")
	var files []export.File
	for _, n := range names {
		files = append(files, export.OSFile(n))
	}
	outs, err := importPages(t, m, files...)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]sources.Event{}
	for _, o := range outs {
		if o.Status() == "ignored" && !strings.Contains(o.Ignored, `"inactive"`) {
			t.Errorf("%s:%d ignored: %s", o.File, o.Line, o.Ignored)
		}
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			by[e.Key()] = append(by[e.Key()], e)
		}
	}
	for _, c := range []struct{ id, types, service, status string }{
		{"github:kestrel/reporting/code-scanning/15", "opened,fixed", "reporting", "fixed"},
		{"github:kestrel/reporting/code-scanning/17", "opened,dismissed", "reporting", "dismissed"},
		{"github:kestrel/reporting/code-scanning/22", "opened", "reporting", "open"},
		{"github:kestrel/customer-portal/dependabot/47", "opened,fixed", "customer-portal", "fixed"},
		{"github:kestrel/ingest-gateway/secret-scanning/2", "opened,fixed", "ingest-gateway", "fixed"},         // revoked
		{"github:kestrel/ingest-gateway/secret-scanning/3", "opened,dismissed", "ingest-gateway", "dismissed"}, // used in tests
	} {
		evs := by[c.id]
		var types []string
		for _, e := range evs {
			types = append(types, strings.TrimPrefix(e.Type, "security.finding."))
		}
		last := evs[len(evs)-1].Data.(*schemas.Finding)
		if strings.Join(types, ",") != c.types || last.ServiceID != c.service || last.Status != c.status {
			t.Errorf("%s: %v %s %s", c.id, types, last.ServiceID, last.Status)
		}
	}
	f := by["github:kestrel/customer-portal/dependabot/47"][1].Data.(*schemas.Finding)
	if *f.CVEID != "CVE-2025-29927" || f.Severity != "critical" || *f.CVSS != 9.1 || f.FixedAt == nil || f.FixedAt.Format("2006-01-02T15:04") != "2026-03-25T18:15" {
		t.Errorf("dependabot 47: %+v", f)
	}
	// A deployment: started, queued/in progress, finished.
	var dep []string
	for k, evs := range by {
		if strings.Contains(k, "/deployments/") && strings.HasPrefix(k, "github:kestrel/customer-portal") {
			last := evs[0]
			for _, e := range evs {
				if e.Time.After(last.Time) {
					last = e
				}
			}
			dep = append(dep, last.Data.(*schemas.Deployment).Status)
		}
	}
	if len(dep) != 6 || strings.Count(strings.Join(dep, ","), "failure") != 1 {
		t.Errorf("customer-portal deployments %v", dep)
	}
}

// TestSameIDsAsWebhooks: an alert saved from the REST API and the created
// webhook of that alert give the same event.
func TestSameIDsAsWebhooks(t *testing.T) {
	for _, c := range []struct{ event, fixture string }{
		{"code_scanning_alert", "code_scanning_alert.created"},
		{"dependabot_alert", "dependabot_alert.created"},
	} {
		body := sourcetest.Shared(t, "github", c.fixture+".json")
		hook, err := github.Map(nil, github.Delivery{Event: c.event, Body: body})
		if err != nil || len(hook.Events) != 1 {
			t.Fatalf("%s webhook: %v %+v", c.fixture, err, hook)
		}
		var p struct {
			Alert json.RawMessage `json:"alert"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		outs, err := importPages(t, nil, sourcetest.File("alerts.json", "["+string(p.Alert)+"]"))
		if err != nil {
			t.Fatal(err)
		}
		if len(outs) != 1 || len(outs[0].Events) == 0 {
			t.Fatalf("%s: %+v", c.fixture, outs)
		}
		got, want := outs[0].Events[0], hook.Events[0]
		if got.ID != want.ID || got.Source != want.Source || got.Type != want.Type || !got.Time.Equal(want.Time) {
			t.Errorf("%s: import %s %s %s %v, webhook %s %s %s %v", c.fixture, got.Source, got.ID, got.Type, got.Time, want.Source, want.ID, want.Type, want.Time)
		}
	}
}

func TestBadPages(t *testing.T) {
	good, err := os.ReadFile(kestrel + "github/dependabot/kestrel-payments-api.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, content, want string }{
		{"truncated", string(good[:len(good)-40]), "p.json:"},
		{"no url", `[{"number": 1, "state": "open"}]`, `p.json:1: field "[0].url": want the object's API url`},
		{"other object", `[{"url": "https://api.github.com/repos/a/b/issues/1"}]`, `is not a code scanning, Dependabot or secret scanning alert`},
		{"object page", `{"alerts": []}`, `p.json:1: want an array of records`},
	} {
		// Alerts are emitted as read; that nothing is published when a
		// page fails is the importer's (importer tests).
		_, err := importPages(t, nil, sourcetest.File("p.json", c.content))
		var fe *export.FileError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
