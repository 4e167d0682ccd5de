package jira_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/jira"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func run(t *testing.T, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, jira.Import, m, files...)
}

// byEntity decodes every event with the contract decoder and groups them.
func byEntity(t *testing.T, outs []export.Outcome) map[string][]sources.Event {
	t.Helper()
	by := map[string][]sources.Event{}
	for _, o := range outs {
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			by[e.Key()] = append(by[e.Key()], e)
		}
	}
	return by
}

func types(evs []sources.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, strings.TrimPrefix(strings.TrimPrefix(e.Type, "security.finding."), "security.incident."))
	}
	return strings.Join(s, ",")
}

func TestKestrel(t *testing.T) {
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	outs, err := run(t, m, export.OSFile(kestrel+"jira/search-1.json"), export.OSFile(kestrel+"jira/search-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 13 {
		t.Fatalf("%d outcomes", len(outs))
	}
	for _, o := range outs {
		if o.Status() != "mapped" || len(o.Unmapped) > 0 {
			t.Errorf("%s:%d: %s %s %v", o.File, o.Line, o.Status(), o.Rejected, o.Unmapped)
		}
	}
	by := byEntity(t, outs)
	host := "kestrel.atlassian.net"
	for _, c := range []struct {
		id, types, status, severity, service string
	}{
		{"10401", "opened,fixed,reopened,fixed", "fixed", "high", "reporting"}, // SEC-101: fixed, retest failed, fixed
		{"10403", "opened,dismissed", "dismissed", "low", "customer-portal"},   // Won't Do
		{"10404", "opened,updated,fixed", "fixed", "critical", "ingest-gateway"},
		{"10405", "opened", "open", "medium", "payments-api"},
		{"10407", "opened,dismissed", "dismissed", "medium", "customer-portal"}, // Duplicate
	} {
		evs := by[jira.IssueID(host, c.id)]
		last := evs[len(evs)-1].Data.(*schemas.Finding)
		if types(evs) != c.types || last.Status != c.status || last.Severity != c.severity || last.ServiceID != c.service {
			t.Errorf("issue %s: %s, %s %s %s", c.id, types(evs), last.Status, last.Severity, last.ServiceID)
		}
	}
	// SEC-106: the CVE from its label, the CVSS field by name, offsets.
	f := by[jira.IssueID(host, "10406")][0].Data.(*schemas.Finding)
	if f.CVEID == nil || *f.CVEID != "CVE-2026-21877" || f.CVSS == nil || *f.CVSS != 9.8 || f.Scanner != "jira" || f.Category != "pentest" {
		t.Errorf("SEC-106 %+v", f)
	}
	fixed := by[jira.IssueID(host, "10401")][3]
	if fixed.Time.Format(time.RFC3339) != "2026-02-03T15:00:47Z" { // 16:00:47.367+0100
		t.Errorf("fixed at %v", fixed.Time)
	}
	// SIR-9: affected customers, departments, cost, records, resolved.
	evs := by[jira.IssueID(host, "10412")]
	in := evs[len(evs)-1].Data.(*schemas.Incident)
	if types(evs) != "detected,resolved" || in.Severity != "critical" || strings.Join(in.AffectedAccountIDs, ",") != "orchard,quayside" ||
		strings.Join(in.ContributingDepartments, ",") != "Data Platform" || *in.CostUSD != 120000 || *in.RecordsExposed != 1840 ||
		in.Category != "security_incident" || strings.Join(in.AffectedServiceIDs, ",") != "reporting" {
		t.Errorf("SIR-9: %s %+v", types(evs), in)
	}
}

func TestTickets(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte(`version: 1
accounts:
  - {id: brightwater, jira: Brightwater Logistics GmbH}
jira:
  issues:
    - {project: SUP, types: [Service Request], as: ticket}
`))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := run(t, m, export.OSFile("testdata/jsm-search-jql.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 3 || outs[2].Status() != "ignored" || !strings.Contains(outs[2].Ignored, `"Task"`) {
		t.Fatalf("outcomes %+v", outs)
	}
	by := byEntity(t, outs)
	evs := by[jira.IssueID("kestrel.atlassian.net", "20117")]
	var got []string
	for _, e := range evs {
		tk := e.Data.(*schemas.Ticket)
		got = append(got, strings.TrimPrefix(e.Type, "support.ticket.")+":"+tk.Status)
	}
	if strings.Join(got, " ") != "created:new updated:open updated:pending solved:solved rated:solved" {
		t.Errorf("events %v", got)
	}
	last := evs[len(evs)-1].Data.(*schemas.Ticket)
	if last.AccountID != "brightwater" || !last.SecurityRelated || last.Priority != "high" || *last.CSATScore != 2 ||
		last.CSATAt.Format(time.RFC3339) != "2026-03-05T07:10:02Z" || last.SolvedAt.Format(time.RFC3339) != "2026-03-03T14:42:10Z" {
		t.Errorf("last %+v", last)
	}
	// No changelog: the current state at the last update.
	evs = by[jira.IssueID("kestrel.atlassian.net", "20140")]
	if len(evs) != 2 || evs[1].Data.(*schemas.Ticket).Status != "pending" || evs[1].Data.(*schemas.Ticket).AccountID != "jira:Orchard Health Ltd" {
		t.Errorf("SUP-334 %+v", evs)
	}
}

func TestBadPages(t *testing.T) {
	m, _ := mapping.Parse("m.yaml", []byte("version: 1\njira:\n  issues:\n    - {as: finding}\n"))
	page, err := os.ReadFile(kestrel + "jira/search-2.json")
	if err != nil {
		t.Fatal(err)
	}
	// Issue SEC-109's creation time without its offset.
	noOffset := strings.Replace(string(page), `"created": "2026-07-14T15:40:`, `"created": "2026-07-14 15:40:`, 1)
	for _, c := range []struct{ name, content, want string }{
		{"truncated", string(page[:len(page)/2]), `p.json:`},
		{"not a search page", `{"results": []}`, `p.json:1: field "issues": no "issues" array`},
		{"timestamp", noOffset, `p.json:7: field "issues[0].created": timestamp "2026-07-14 15:40:`},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Issues are emitted page by page; that nothing is published
			// when a page fails is the importer's (importer tests).
			_, err := run(t, m, sourcetest.File("p.json", c.content), export.OSFile(kestrel+"jira/search-1.json"))
			var fe *export.FileError
			if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := run(t, m, sourcetest.File("p.json", string(page[:len(page)/2]))); err == nil || !strings.Contains(err.Error(), "ends early (truncated download?)") {
		t.Errorf("truncated: %v", err)
	}
}
