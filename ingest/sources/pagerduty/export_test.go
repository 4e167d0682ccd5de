package pagerduty_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/pagerduty"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func importFiles(t *testing.T, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, pagerduty.Import, m, files...)
}

func TestImportKestrel(t *testing.T) {
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	outs, err := importFiles(t, m, export.OSFile(kestrel+"pagerduty/incidents.json"),
		export.OSFile(kestrel+"pagerduty/log_entries-1.json"), export.OSFile(kestrel+"pagerduty/log_entries-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]sources.Event{}
	for _, o := range outs {
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			by[e.Key()] = append(by[e.Key()], e)
		}
	}
	if len(by) != 4 {
		t.Fatalf("%d security incidents, want 4 (the P3 and P4 ones are not security)", len(by))
	}
	for _, c := range []struct{ id, types, status, severity, service string }{
		{"Q0QKQ7N2RTZ8AB", "detected,updated,resolved", "resolved", "high", "ingest-gateway"},
		{"Q1M3V0P8WB2CDE", "detected,updated,resolved", "resolved", "critical", "customer-portal"},
		{"Q5RX7C4V1NB3PQ", "detected,updated", "open", "high", "payments-api"},
	} {
		evs := by[pagerduty.IncidentID(c.id)]
		var types []string
		for _, e := range evs {
			types = append(types, strings.TrimPrefix(e.Type, "security.incident."))
		}
		last := evs[len(evs)-1].Data.(*schemas.Incident)
		if strings.Join(types, ",") != c.types || last.Status != c.status || last.Severity != c.severity || strings.Join(last.AffectedServiceIDs, ",") != c.service {
			t.Errorf("%s: %v %+v", c.id, types, last)
		}
	}
	// Resolved 190 minutes after 01:13:09 by its resolve log entry.
	evs := by[pagerduty.IncidentID("Q0QKQ7N2RTZ8AB")]
	if r := evs[2].Data.(*schemas.Incident).ResolvedAt; r == nil || !r.Equal(time.Date(2026, 4, 2, 4, 23, 9, 0, time.UTC)) {
		t.Errorf("resolved at %v", r)
	}
}

// TestSameIDsAsWebhooks: the trigger log entry of an incident and the
// incident.triggered webhook of it are one event.
func TestSameIDsAsWebhooks(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte("version: 1\nincidents:\n  pagerduty:\n    services: [PSEC001]\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("testdata/incident.triggered.json")
	if err != nil {
		t.Fatal(err)
	}
	hook, err := pagerduty.Map(m, pagerduty.Delivery{Received: time.Now(), Body: body})
	if err != nil || len(hook.Events) != 1 {
		t.Fatalf("webhook: %v %+v", err, hook)
	}
	var env struct {
		Event struct {
			OccurredAt string          `json:"occurred_at"`
			Data       json.RawMessage `json:"data"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	var inc struct {
		ID string `json:"id"`
	}
	json.Unmarshal(env.Event.Data, &inc)
	entries := `{"log_entries": [{"id": "R1", "type": "trigger_log_entry", "created_at": "` + env.Event.OccurredAt + `", "incident": {"id": "` + inc.ID + `", "type": "incident_reference"}}]}`
	outs, err := importFiles(t, m, sourcetest.File("incidents.json", `{"incidents": [`+string(env.Event.Data)+`]}`), sourcetest.File("log.json", entries))
	if err != nil {
		t.Fatal(err)
	}
	got, want := outs[0].Events[0], hook.Events[0]
	if got.ID != want.ID || got.Source != want.Source || got.Type != want.Type || !got.Time.Equal(want.Time) {
		t.Errorf("import %s %s %v, webhook %s %s %v", got.ID, got.Type, got.Time, want.ID, want.Type, want.Time)
	}
}

func TestBadPages(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"truncated", `{"incidents": [{"id": "Q1", "type": "incident", "created_at": "2026-01-01T00:00:00Z"`, "the page ends early"},
		{"not a list", `{"services": []}`, `p.json:1: field "incidents": no "incidents" array`},
		{"entry without incident", `{"log_entries": [{"id": "R1", "type": "trigger_log_entry", "created_at": "2026-01-01T00:00:00Z"}]}`, `p.json:1: field "log_entries[0]": a log entry needs incident.id`},
		{"bad time", `{"incidents": [{"id": "Q1", "created_at": "yesterday"}]}`, `p.json:1: field "incidents[0]": not a PagerDuty incident`},
	} {
		outs, err := importFiles(t, nil, sourcetest.File("p.json", c.content))
		var fe *export.FileError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || len(outs) != 0 {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
