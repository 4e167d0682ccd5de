// Package jira maps Jira issues — saved pages of the REST search
// (/rest/api/3/search/jql or /rest/api/2/search with
// expand=changelog,names) — onto contract events, as the mapping file's
// jira.issues entries say: security findings (security.finding.*),
// support tickets (support.ticket.*, Jira Service Management) or security
// incidents (security.incident.*, with the affected customers and the
// contributing departments of the post-incident review).
//
// The issue's changelog dates every change: a resolution set is a fix or a
// dismissal, a resolution cleared a reopening, a priority change an update.
// Jira writes timestamps with a numeric offset without a colon
// ("2026-02-10T09:12:44.000+0100"); they are read as the instants they are.
package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// System names Jira in event ids and the mapping file.
const System = "jira"

// Source is the CloudEvents source attribute of events about issues of the
// Jira site at host (kestrel.atlassian.net).
func Source(host string) string { return "https://" + host }

// IssueID is the entity id (finding_id, ticket_id or incident_id) of the
// issue with numeric id on the Jira site at host. The numeric id, unlike the
// key, survives moving the issue to another project.
func IssueID(host, id string) string { return "jira:issue/" + host + "/" + id }

// Issue is the part of a Jira issue the mapper reads.
type Issue struct {
	ID        string                     `json:"id"`
	Key       string                     `json:"key"`
	Self      string                     `json:"self"`
	Fields    map[string]json.RawMessage `json:"fields"`
	Changelog struct {
		Total     int       `json:"total"`
		Histories []History `json:"histories"`
	} `json:"changelog"`
}

// History is one changelog entry: the items changed at one time.
type History struct {
	ID      string `json:"id"`
	Created string `json:"created"`
	Items   []struct {
		Field      string  `json:"field"`
		FieldID    string  `json:"fieldId"`
		FromString *string `json:"fromString"`
		ToString   *string `json:"toString"`
		To         *string `json:"to"`
	} `json:"items"`
}

// Import reads saved search pages and calls emit with one Outcome per
// issue, as each page is read (issues need nothing from other pages). A
// page that is not a search result (no issues array, truncated JSON, a
// timestamp without a zone) is an error naming the file, line and field;
// the errors of every file are returned joined (what was emitted before is
// the caller's to discard: the importer publishes nothing then).
func Import(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error {
	if m == nil {
		m = &mapping.File{}
	}
	return export.Stream(ctx, files, func(name string, data []byte, emit func(export.Outcome) error) error {
		return readPage(name, data, m, emit)
	}, emit)
}

func readPage(file string, data []byte, m *mapping.File, emit func(export.Outcome) error) error {
	// names (field id -> name) may come after the issues: read it first.
	var head struct {
		Names map[string]string `json:"names"`
	}
	if raw, ok := export.Members(data)["names"]; ok {
		_ = json.Unmarshal(raw, &head.Names) // a broken page fails below with its line
	}
	_, err := export.Page(file, data, "issues", func(r export.Record) error {
		var is Issue
		if err := r.Unmarshal(file, &is, "a Jira issue"); err != nil {
			return err
		}
		x := &issueMapper{m: m, is: &is, names: head.Names, file: file, line: r.Line, path: r.Path}
		res, err := x.mapIssue()
		if err != nil {
			return err
		}
		return emit(res)
	})
	return err
}

type issueMapper struct {
	m     *mapping.File
	is    *Issue
	names map[string]string
	file  string
	line  int
	path  string
	host  string
	// reject, when set by a kind's mapper, is why the issue is not imported.
	reject string
}

// fail is a file error at the issue for field.
func (x *issueMapper) fail(field string, err error) error {
	return &export.FileError{File: x.file, Line: x.line, Field: x.path + "." + field, Err: err}
}

// field returns the raw value of a field given by id or by name.
func (x *issueMapper) field(name string) json.RawMessage {
	if name == "" {
		return nil
	}
	if v, ok := x.is.Fields[name]; ok {
		return v
	}
	for id, n := range x.names {
		if strings.EqualFold(n, name) {
			return x.is.Fields[id]
		}
	}
	return nil
}

// fieldName is the field's id as the changelog names it (fieldId) and its
// display name (field).
func (x *issueMapper) fieldName(name string) (id, display string) {
	if _, ok := x.is.Fields[name]; ok {
		return name, x.names[name]
	}
	for id, n := range x.names {
		if strings.EqualFold(n, name) {
			return id, n
		}
	}
	return name, name
}

// strs reads a field as strings: a string, a number, an option
// ({"value": ...}), a named object ({"name": ...}), or an array of these.
func strs(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err == nil {
		var out []string
		for _, e := range arr {
			out = append(out, strs(e)...)
		}
		return out
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s = strings.TrimSpace(s); s != "" {
			return []string{s}
		}
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return []string{n.String()}
	}
	var obj struct {
		Value  *string `json:"value"`
		Name   *string `json:"name"`
		Rating *int    `json:"rating"`
	}
	if err := json.Unmarshal(raw, &obj); err == nil {
		switch {
		case obj.Value != nil:
			return []string{*obj.Value}
		case obj.Name != nil:
			return []string{*obj.Name}
		case obj.Rating != nil:
			return []string{strconv.Itoa(*obj.Rating)}
		}
	}
	return nil
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// number reads a numeric field (a number or a numeric string).
func (x *issueMapper) number(name string) (*float64, error) {
	v := first(strs(x.field(name)))
	if v == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil, x.fail(name, fmt.Errorf("want a number, have %q", v))
	}
	return &f, nil
}

func (x *issueMapper) timeField(name string, required bool) (*time.Time, error) {
	v := first(strs(x.field(name)))
	if v == "" {
		if required {
			return nil, x.fail(name, errors.New("missing"))
		}
		return nil, nil
	}
	t, err := export.ParseISO(v)
	if err != nil {
		// A date field (duedate) is a calendar day.
		if d, derr := time.Parse(time.DateOnly, v); derr == nil {
			return &d, nil
		}
		return nil, x.fail(name, err)
	}
	return &t, nil
}

// change is one dated changelog entry, reduced to what the contract uses.
type change struct {
	at         time.Time
	resolution *string // set: the resolution's new value ("" cleared)
	priority   *string
	status     *string
	csat       bool
}

func (x *issueMapper) changes() ([]change, error) {
	var out []change
	sevID, sevName := x.fieldName(sources.Or(x.m.Jira.Fields.Severity, "priority"))
	csatID, csatName := x.fieldName(sources.Or(x.m.Jira.Fields.CSAT, "Satisfaction"))
	for i, h := range x.is.Changelog.Histories {
		at, err := export.ParseISO(h.Created)
		if err != nil {
			return nil, x.fail(fmt.Sprintf("changelog.histories[%d].created", i), err)
		}
		c := change{at: at}
		for _, it := range h.Items {
			to := ""
			if it.ToString != nil {
				to = *it.ToString
			}
			switch {
			case it.Field == "resolution" || it.FieldID == "resolution":
				c.resolution = &to
			case it.Field == "status" || it.FieldID == "status":
				c.status = &to
			case it.FieldID == sevID || strings.EqualFold(it.Field, sevName):
				c.priority = &to
			case it.FieldID == csatID || strings.EqualFold(it.Field, csatName):
				c.csat = true
			}
		}
		if c.resolution != nil || c.priority != nil || c.status != nil || c.csat {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, nil
}

func (x *issueMapper) mapIssue() (export.Outcome, error) {
	is := x.is
	out := export.Outcome{File: x.file, Line: x.line}
	if is.ID == "" || is.Fields == nil {
		return out, x.fail("id", errors.New("not a Jira issue (no id or fields)"))
	}
	u, err := url.Parse(is.Self)
	if err != nil || u.Host == "" {
		return out, x.fail("self", fmt.Errorf("want the issue's URL, have %q", is.Self))
	}
	x.host = u.Host
	project := first(strs(jsonMember(is.Fields["project"], "key")))
	issueType := first(strs(is.Fields["issuetype"]))
	labels := strs(is.Fields["labels"])
	kind := x.m.JiraKind(project, issueType, labels)
	if kind == "" {
		out.Ignored = fmt.Sprintf("issue type %q of project %s is not selected by jira.issues", issueType, project)
		return out, nil
	}
	created, err := x.timeField("created", true)
	if err != nil {
		return out, err
	}
	changes, err := x.changes()
	if err != nil {
		return out, err
	}
	var res sources.Result
	switch kind {
	case "finding":
		res, err = x.finding(*created, labels, changes)
	case "ticket":
		res, err = x.ticket(*created, labels, changes)
	case "incident":
		res, err = x.incident(*created, issueType, changes)
	}
	if err != nil {
		return out, err
	}
	out.Events, out.Unmapped, out.Ignored, out.Rejected = res.Events, res.Unmapped, res.Ignored, x.reject
	return out, nil
}

// jsonMember returns member name of a JSON object, nil otherwise.
func jsonMember(raw json.RawMessage, name string) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	return obj[name]
}

func (x *issueMapper) event(entity, typ string, at time.Time, data schemas.Payload) sources.Event {
	return sources.Event{ID: sources.ChangeID(System, entity, typ, at), Source: Source(x.host), Type: typ, Time: at.UTC(), Data: data}
}

// services are the services of the issue's service field (default
// components), through services[].jira.
func (x *issueMapper) services() []string {
	var out []string
	for _, c := range strs(x.field(sources.Or(x.m.Jira.Fields.Service, "components"))) {
		out = append(out, x.m.Service(mapping.JiraS, c, c))
	}
	return out
}

func (x *issueMapper) accounts(field string) []string {
	var out []string
	for _, a := range strs(x.field(field)) {
		out = append(out, x.m.Account(mapping.JiraS, a))
	}
	return out
}

var cveRe = regexp.MustCompile(`(?i)^CVE-\d{4}-\d{4,}$`)

func (x *issueMapper) finding(created time.Time, labels []string, changes []change) (sources.Result, error) {
	m, is := x.m, x.is
	svc := x.services()
	if len(svc) == 0 {
		return sources.Result{}, x.fail(sources.Or(m.Jira.Fields.Service, "components"), errors.New("a finding needs a service: set a component, or name the service field in jira.fields.service"))
	}
	f := &schemas.Finding{
		FindingID: IssueID(x.host, is.ID), Scanner: sources.Or(m.Jira.Scanner, "jira"),
		Category: sources.Or(m.Jira.Category, "pentest"), ServiceID: svc[0], DetectedAt: created.UTC(),
		Title: sources.NonEmpty(truncate(is.Key+" "+first(strs(is.Fields["summary"])), 4096)),
	}
	if v := first(strs(x.field(m.Jira.Fields.CVE))); v != "" {
		f.CVEID = &v
	} else {
		for _, l := range labels {
			if cveRe.MatchString(l) {
				f.CVEID = sources.Ptr(strings.ToUpper(l))
				break
			}
		}
	}
	cvss, err := x.number(m.Jira.Fields.CVSS)
	if err != nil {
		return sources.Result{}, err
	}
	if cvss != nil && *cvss >= 0 && *cvss <= 10 {
		f.CVSS = cvss
	}
	if v := first(strs(x.field(m.Jira.Fields.InternetFacing))); v != "" {
		f.InternetFacing = sources.Ptr(truthy(v))
	}
	due, err := x.timeField(sources.Or(m.Jira.Fields.DueDate, "duedate"), false)
	if err != nil {
		return sources.Result{}, err
	}
	f.SLADueAt = due
	// The severity at creation is the first changelog change's old value,
	// else the current one.
	sevNow := first(strs(x.field(sources.Or(m.Jira.Fields.Severity, "priority"))))
	var res sources.Result
	state := *f
	sev := sevNow
	for _, c := range changes {
		if c.priority != nil {
			sev = x.priorityBefore(sevNow)
			break
		}
	}
	severity, u := m.JiraSeverity(sev)
	if u != nil {
		return sources.Result{Unmapped: []sources.Unmapped{*u}}, nil
	}
	state.Severity, state.Status = severity, "open"
	res.Events = append(res.Events, x.event(state.FindingID, "security.finding.opened", created, sources.Ptr(state)))
	for _, c := range changes {
		typ := ""
		switch {
		case c.resolution != nil && *c.resolution != "":
			if m.JiraDismissed(*c.resolution) {
				typ, state.Status = "security.finding.dismissed", "dismissed"
				state.DismissedAt, state.DismissedReason, state.FixedAt = sources.Ptr(c.at.UTC()), sources.Ptr(*c.resolution), nil
			} else {
				typ, state.Status = "security.finding.fixed", "fixed"
				state.FixedAt, state.DismissedAt, state.DismissedReason = sources.Ptr(c.at.UTC()), nil, nil
			}
		case c.resolution != nil:
			typ, state.Status = "security.finding.reopened", "open"
			state.FixedAt, state.DismissedAt, state.DismissedReason = nil, nil, nil
		}
		if c.priority != nil {
			s, u := m.JiraSeverity(*c.priority)
			if u != nil {
				res.Unmapped = append(res.Unmapped, *u)
			} else {
				state.Severity = s
			}
			if typ == "" {
				typ = "security.finding.updated"
			}
		}
		if typ == "" {
			continue
		}
		res.Events = append(res.Events, x.event(state.FindingID, typ, c.at, sources.Ptr(state)))
	}
	// What the changelog does not date (a truncated changelog, an issue
	// moved in resolved): the current state, at the resolution or update.
	resolution, resolvedAt, updated, err := x.current()
	if err != nil {
		return sources.Result{}, err
	}
	want, typ := "open", "security.finding.reopened"
	if resolution != "" {
		want, typ = "fixed", "security.finding.fixed"
		if m.JiraDismissed(resolution) {
			want, typ = "dismissed", "security.finding.dismissed"
		}
	}
	nowSev, u := m.JiraSeverity(sevNow)
	if u == nil && nowSev != state.Severity && want == state.Status {
		typ = "security.finding.updated"
	}
	if want != state.Status || u == nil && nowSev != state.Severity {
		at := updated
		if resolvedAt != nil && want != "open" {
			at = *resolvedAt
		}
		state.Status = want
		state.FixedAt, state.DismissedAt, state.DismissedReason = nil, nil, nil
		switch want {
		case "fixed":
			state.FixedAt = sources.Ptr(at.UTC())
		case "dismissed":
			state.DismissedAt, state.DismissedReason = sources.Ptr(at.UTC()), sources.Ptr(resolution)
		}
		if u == nil {
			state.Severity = nowSev
		}
		res.Events = append(res.Events, x.event(state.FindingID, typ, at, sources.Ptr(state)))
	}
	return res, nil
}

// current returns the issue's resolution now ("" when unresolved), when it
// was resolved, and when the issue was last updated.
func (x *issueMapper) current() (resolution string, resolvedAt *time.Time, updated time.Time, err error) {
	resolution = first(strs(x.is.Fields["resolution"]))
	if resolvedAt, err = x.timeField("resolutiondate", false); err != nil {
		return
	}
	u, err := x.timeField("updated", false)
	if err != nil {
		return
	}
	if u == nil {
		u, _ = x.timeField("created", true)
	}
	return resolution, resolvedAt, *u, nil
}

// priorityBefore is the severity value before the first dated change.
func (x *issueMapper) priorityBefore(now string) string {
	for _, h := range x.is.Changelog.Histories {
		for _, it := range h.Items {
			sevID, sevName := x.fieldName(sources.Or(x.m.Jira.Fields.Severity, "priority"))
			if (it.FieldID == sevID || strings.EqualFold(it.Field, sevName)) && it.FromString != nil {
				return *it.FromString
			}
		}
	}
	return now
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1", "x":
		return true
	}
	return false
}
