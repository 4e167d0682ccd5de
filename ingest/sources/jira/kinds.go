package jira

import (
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/schemas"
)

// ticketStatus maps a Jira Service Management status to a ticket status
// by its category (new, indeterminate, done) and the names of the
// standard waiting and closed statuses.
func ticketStatus(name, category string) string {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "waiting for customer") || strings.Contains(n, "pending"):
		return "pending"
	case n == "closed" || n == "canceled" || n == "cancelled":
		return "closed"
	case category == "done":
		return "solved"
	case category == "new":
		return "new"
	}
	return "open"
}

func (x *issueMapper) statusNow() (name, category string) {
	raw := x.is.Fields["status"]
	return first(strs(raw)), first(strs(jsonMember(jsonMember(raw, "statusCategory"), "key")))
}

func (x *issueMapper) ticket(created time.Time, labels []string, changes []change) (sources.Result, error) {
	m, is := x.m, x.is
	org := first(strs(x.field(sources.Or(m.Jira.Fields.Account, "Organizations"))))
	if org == "" {
		x.reject = "a ticket needs a customer: no organization (jira.fields.account)"
		return sources.Result{}, nil
	}
	prio, u := m.JiraPriority(first(strs(is.Fields["priority"])))
	if u != nil {
		return sources.Result{Unmapped: []sources.Unmapped{*u}}, nil
	}
	secRelated := m.SecurityRelated(labels)
	if f := m.Jira.Fields.SecurityRelatedFlag; f != "" {
		secRelated = truthy(first(strs(x.field(f))))
	}
	t := schemas.Ticket{
		TicketID: IssueID(x.host, is.ID), AccountID: m.Account("jira", org), Status: "new", Priority: prio,
		Channel: sources.Ptr("jira"), Tags: labels, SecurityRelated: secRelated, CreatedAt: created.UTC(),
	}
	var res sources.Result
	res.Events = append(res.Events, x.event(t.TicketID, "support.ticket.created", created, sources.Ptr(t)))
	csat := first(strs(x.field(sources.Or(m.Jira.Fields.CSAT, "Satisfaction"))))
	var score *int64
	if csat != "" {
		s, u := m.CSAT(csat)
		if u != nil {
			res.Unmapped = append(res.Unmapped, *u) // optional: left out, reported
		} else {
			score = &s
		}
	}
	rated := false
	for _, c := range changes {
		typ := ""
		if c.status != nil {
			if st := ticketStatus(*c.status, ""); st == "pending" || st == "closed" {
				t.Status, typ = st, "support.ticket.updated"
			} else if t.Status == "new" || t.Status == "pending" {
				t.Status, typ = "open", "support.ticket.updated"
			}
		}
		switch {
		case c.resolution != nil && *c.resolution != "":
			if t.Status != "closed" {
				t.Status = "solved"
			}
			t.SolvedAt, typ = sources.Ptr(c.at.UTC()), "support.ticket.solved"
		case c.resolution != nil:
			t.Status, t.SolvedAt, typ = "open", nil, "support.ticket.updated"
		}
		if c.csat && score != nil && !rated {
			t.CSATScore, t.CSATAt, typ, rated = score, sources.Ptr(c.at.UTC()), "support.ticket.rated", true
		}
		if typ != "" {
			res.Events = append(res.Events, x.event(t.TicketID, typ, c.at, sources.Ptr(t)))
		}
	}
	// The current state where the changelog does not date it.
	resolution, resolvedAt, updated, err := x.current()
	if err != nil {
		return sources.Result{}, err
	}
	name, cat := x.statusNow()
	want := ticketStatus(name, cat)
	if want != t.Status || (score != nil && !rated) || (resolution != "") != (t.SolvedAt != nil) {
		typ, at := "support.ticket.updated", updated
		t.Status = want
		if resolution != "" && t.SolvedAt == nil {
			t.SolvedAt = sources.Ptr(updated.UTC())
			if resolvedAt != nil {
				t.SolvedAt, at = sources.Ptr(resolvedAt.UTC()), *resolvedAt
			}
			typ = "support.ticket.solved"
		}
		if score != nil && !rated {
			t.CSATScore, t.CSATAt, typ, at = score, sources.Ptr(updated.UTC()), "support.ticket.rated", updated
		}
		res.Events = append(res.Events, x.event(t.TicketID, typ, at, sources.Ptr(t)))
	}
	return res, nil
}

func (x *issueMapper) incident(created time.Time, issueType string, changes []change) (sources.Result, error) {
	m, is := x.m, x.is
	sevField := sources.Or(m.Jira.Fields.Severity, "priority")
	sevNow := first(strs(x.field(sevField)))
	sev := sevNow
	for _, c := range changes {
		if c.priority != nil {
			sev = x.priorityBefore(sevNow)
			break
		}
	}
	severity := func(v string) (string, *sources.Unmapped) {
		s, u := m.JiraSeverity(v)
		if s == "info" {
			s = "low" // incidents have no info severity
		}
		return s, u
	}
	s0, u := severity(sev)
	if u != nil {
		return sources.Result{Unmapped: []sources.Unmapped{*u}}, nil
	}
	category := first(strs(x.field(m.Jira.Fields.IncidentCategory)))
	if category == "" {
		category = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(issueType)), " ", "_")
	}
	in := schemas.Incident{
		IncidentID: IssueID(x.host, is.ID), Severity: s0, Category: category, Status: "open",
		AffectedServiceIDs: nonNil(x.services()), AffectedAccountIDs: nonNil(x.accounts(m.Jira.Fields.AffectedAccounts)),
		ContributingDepartments: strs(x.field(m.Jira.Fields.ContributingDepts)), DetectedAt: created.UTC(),
	}
	cost, err := x.number(m.Jira.Fields.Cost)
	if err != nil {
		return sources.Result{}, err
	}
	if cost != nil && *cost >= 0 {
		in.CostUSD = cost
	}
	recs, err := x.number(m.Jira.Fields.RecordsExposed)
	if err != nil {
		return sources.Result{}, err
	}
	if recs != nil && *recs >= 0 {
		n, _ := strconv.ParseInt(strconv.FormatFloat(*recs, 'f', 0, 64), 10, 64)
		in.RecordsExposed = &n
	}
	var res sources.Result
	res.Events = append(res.Events, x.event(in.IncidentID, "security.incident.detected", created, sources.Ptr(in)))
	for _, c := range changes {
		typ := ""
		if c.status != nil && strings.Contains(strings.ToLower(*c.status), "contain") && in.Status == "open" {
			in.Status, typ = "contained", "security.incident.updated"
		}
		if c.priority != nil {
			if s, u := severity(*c.priority); u == nil {
				in.Severity, typ = s, "security.incident.updated"
			} else {
				res.Unmapped = append(res.Unmapped, *u)
			}
		}
		switch {
		case c.resolution != nil && *c.resolution != "":
			in.Status, in.ResolvedAt, typ = "resolved", sources.Ptr(c.at.UTC()), "security.incident.resolved"
		case c.resolution != nil:
			in.Status, in.ResolvedAt, typ = "open", nil, "security.incident.updated"
		}
		if typ != "" {
			res.Events = append(res.Events, x.event(in.IncidentID, typ, c.at, sources.Ptr(in)))
		}
	}
	resolution, resolvedAt, updated, err := x.current()
	if err != nil {
		return sources.Result{}, err
	}
	if (resolution != "") != (in.Status == "resolved") {
		at, typ := updated, "security.incident.updated"
		in.Status, in.ResolvedAt = "open", nil
		if resolution != "" {
			typ, in.Status = "security.incident.resolved", "resolved"
			if resolvedAt != nil {
				at = *resolvedAt
			}
			in.ResolvedAt = sources.Ptr(at.UTC())
		}
		res.Events = append(res.Events, x.event(in.IncidentID, typ, at, sources.Ptr(in)))
	}
	return res, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
