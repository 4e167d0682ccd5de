package pagerduty

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

// LogEntry is an incident log entry of the REST API (GET /log_entries or
// /incidents/{id}/log_entries).
type LogEntry struct {
	ID        string       `json:"id"`
	Type      string       `json:"type"` // trigger_log_entry, acknowledge_log_entry, resolve_log_entry, ...
	CreatedAt sources.Time `json:"created_at"`
	Incident  Reference    `json:"incident"`
}

// logEntryChange maps a log entry type to the incident status it leaves
// and the contract event type; entries that change nothing the contract
// carries (notifications, notes, escalations) map to "".
func logEntryChange(t string) (status, typ string) {
	switch t {
	case "trigger_log_entry":
		return "triggered", "security.incident.detected"
	case "acknowledge_log_entry":
		return "acknowledged", "security.incident.updated"
	case "unacknowledge_log_entry":
		return "triggered", "security.incident.updated"
	case "urgency_change_log_entry":
		return "", "security.incident.updated"
	case "resolve_log_entry":
		return "resolved", "security.incident.resolved"
	}
	return "", ""
}

// Import reads saved PagerDuty REST API pages — incidents (GET /incidents,
// {"incidents": [...]}) and log entries (GET /log_entries or
// /incidents/{id}/log_entries, {"log_entries": [...]}) — and calls emit
// with one Outcome per incident and per log entry.
//
// Each incident's log entries date its changes: triggered (detected),
// acknowledged and unacknowledged, urgency changed (updated), resolved.
// Each change is mapped with MapIncident, the gateway's mapping, so an
// import and the webhook of the same change are one event. An incident
// without log entries is its detection (created_at) and, when resolved, its
// resolution (resolved_at). A page that is not such a list is an error
// naming the file, line and field.
func Import(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error {
	if m == nil {
		m = &mapping.File{}
	}
	type located[T any] struct {
		v          T
		file, path string
		line       int
	}
	var (
		incidents []located[*Incident]
		entries   []located[*LogEntry]
	)
	err := export.ReadFiles(ctx, files, func(name string, data []byte) error {
		if _, ok := export.Members(data)["log_entries"]; ok {
			_, err := export.Page(name, data, "log_entries", func(r export.Record) error {
				e := &LogEntry{}
				if err := r.Unmarshal(name, e, "a PagerDuty log entry"); err != nil {
					return err
				}
				if e.Incident.ID == "" || e.CreatedAt.IsZero() {
					return export.Errorf(name, r.Line, r.Path, "a log entry needs incident.id and created_at")
				}
				entries = append(entries, located[*LogEntry]{e, name, r.Path, r.Line})
				return nil
			})
			return err
		}
		_, err := export.Page(name, data, "incidents", func(r export.Record) error {
			inc := &Incident{}
			if err := r.Unmarshal(name, inc, "a PagerDuty incident"); err != nil {
				return err
			}
			if inc.ID == "" || inc.CreatedAt.IsZero() {
				return export.Errorf(name, r.Line, r.Path, "an incident needs id and created_at")
			}
			incidents = append(incidents, located[*Incident]{inc, name, r.Path, r.Line})
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	byIncident := map[string][]*LogEntry{}
	known := map[string]bool{}
	for _, i := range incidents {
		known[i.v.ID] = true
	}
	for _, e := range entries {
		byIncident[e.v.Incident.ID] = append(byIncident[e.v.Incident.ID], e.v)
	}
	mapped := map[string]bool{} // incidents that are security incidents
	for _, i := range incidents {
		res, err := incidentHistory(m, i.v, byIncident[i.v.ID])
		if err != nil {
			return export.At(i.file, i.line, i.path, err)
		}
		mapped[i.v.ID] = len(res.Events) > 0
		if err := emit(export.Outcome{File: i.file, Line: i.line, Events: res.Events, Unmapped: res.Unmapped, Ignored: res.Ignored}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		out := export.Outcome{File: e.file, Line: e.line}
		_, typ := logEntryChange(e.v.Type)
		switch {
		case !known[e.v.Incident.ID]:
			out.Ignored = "log entry of an incident no incidents page given lists"
		case !mapped[e.v.Incident.ID]:
			out.Ignored = "log entry of an incident that is not mapped"
		case typ == "":
			out.Ignored = e.v.Type + ": changes nothing the contract carries"
		default:
			out.Folded = true // dates a change of its incident
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

// incidentHistory maps an incident's changes as its log entries date them.
func incidentHistory(m *mapping.File, inc *Incident, entries []*LogEntry) (sources.Result, error) {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].CreatedAt.Before(entries[j].CreatedAt.Time) })
	type change struct {
		status, typ string
		at          time.Time
	}
	var changes []change
	for _, e := range entries {
		status, typ := logEntryChange(e.Type)
		if typ != "" {
			changes = append(changes, change{status, typ, e.CreatedAt.Time})
		}
	}
	if len(changes) == 0 || changes[0].typ != "security.incident.detected" {
		// No (or partial) log: the detection at created_at.
		changes = append([]change{{"triggered", "security.incident.detected", inc.CreatedAt.Time}}, changes...)
	}
	if inc.Status == "resolved" && changes[len(changes)-1].status != "resolved" {
		at := inc.ResolvedAt.Time
		if at.IsZero() {
			return sources.Result{}, errors.New("resolved incident without resolved_at or a resolve log entry")
		}
		changes = append(changes, change{"resolved", "security.incident.resolved", at})
	}
	var res sources.Result
	status := "triggered"
	for _, c := range changes {
		if c.status != "" {
			status = c.status
		}
		state := *inc
		state.Status, state.ResolvedAt = status, sources.Time{}
		if status == "resolved" {
			state.ResolvedAt = sources.Time{Time: c.at}
		}
		r, err := MapIncident(m, &state, c.typ, c.at)
		if err != nil {
			return sources.Result{}, err
		}
		if len(r.Events) == 0 { // ignored (not security) or unmapped: the same for every change
			return r, nil
		}
		res.Add(r)
	}
	return res, nil
}
