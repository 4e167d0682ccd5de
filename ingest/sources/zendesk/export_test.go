package zendesk_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/ingest/sources/zendesk"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func importFiles(t *testing.T, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, zendesk.Import, m, files...)
}

func latestByTicket(t *testing.T, outs []export.Outcome) map[string]sources.Event {
	t.Helper()
	last := map[string]sources.Event{}
	for _, o := range outs {
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			if cur, ok := last[e.Key()]; !ok || !e.Time.Before(cur.Time) {
				last[e.Key()] = e
			}
		}
	}
	return last
}

// TestImportKestrel: cursor pages with sideloaded metric sets, a ticket
// listed twice, tickets without a rating, the ratings list dating CSAT.
func TestImportKestrel(t *testing.T) {
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(kestrel + "zendesk/*.json")
	var files []export.File
	for _, n := range names {
		files = append(files, export.OSFile(n))
	}
	outs, err := importFiles(t, m, files...)
	if err != nil {
		t.Fatal(err)
	}
	last := latestByTicket(t, outs)

	// Read the fixtures directly for what to expect.
	type ticket struct {
		ID       int64           `json:"id"`
		Updated  string          `json:"updated_at"`
		Org      *int64          `json:"organization_id"`
		Status   string          `json:"status"`
		Rating   *map[string]any `json:"satisfaction_rating"`
		Priority *string         `json:"priority"`
	}
	want := map[int64]ticket{}
	for _, n := range names {
		if !strings.Contains(n, "incremental-tickets") {
			continue
		}
		var page struct{ Tickets []ticket }
		b, _ := os.ReadFile(n)
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, tk := range page.Tickets {
			if cur, ok := want[tk.ID]; !ok || tk.Updated > cur.Updated {
				want[tk.ID] = tk
			}
		}
	}
	var ratings struct {
		Ratings []struct {
			TicketID  int64  `json:"ticket_id"`
			Score     string `json:"score"`
			UpdatedAt string `json:"updated_at"`
		} `json:"satisfaction_ratings"`
	}
	b, _ := os.ReadFile(kestrel + "zendesk/satisfaction_ratings.json")
	if err := json.Unmarshal(b, &ratings); err != nil {
		t.Fatal(err)
	}
	ratedAt := map[int64]string{}
	for _, r := range ratings.Ratings {
		ratedAt[r.TicketID] = r.UpdatedAt
	}
	mapped, unrated := 0, 0
	for id, tk := range want {
		e, ok := last[zendesk.TicketID(jsonID(id))]
		if tk.Org == nil || tk.Status == "deleted" {
			if ok {
				t.Errorf("ticket %d (no organization or deleted) was mapped", id)
			}
			continue
		}
		if !ok {
			t.Errorf("ticket %d not mapped", id)
			continue
		}
		mapped++
		d := e.Data.(*schemas.Ticket)
		score := ""
		if tk.Rating != nil {
			score, _ = (*tk.Rating)["score"].(string)
		}
		switch score {
		case "good", "bad":
			wantScore := int64(5)
			if score == "bad" {
				wantScore = 1
			}
			if d.CSATScore == nil || *d.CSATScore != wantScore || d.CSATAt == nil || d.CSATAt.Format("2006-01-02T15:04:05Z") != ratedAt[id] || e.Type != "support.ticket.rated" {
				t.Errorf("ticket %d: %s %+v, want score %d at %s", id, e.Type, d, wantScore, ratedAt[id])
			}
		default:
			unrated++
			if d.CSATScore != nil {
				t.Errorf("ticket %d without a rating has CSAT %d", id, *d.CSATScore)
			}
		}
		if (d.Status == "solved" || d.Status == "closed") && d.SolvedAt == nil {
			t.Errorf("ticket %d: solved without solved_at (metric_sets)", id)
		}
	}
	if mapped < 50 || unrated == 0 {
		t.Errorf("mapped %d, unrated %d", mapped, unrated)
	}
}

func jsonID(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestSharedTicketList: the ticket list of the shared Zendesk API fixtures
// (a tickets page as the REST API returns it) imports through the same
// mapper.
func TestSharedTicketList(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte("version: 1\naccounts:\n  - {id: terraform-org, zendesk: 360363695492}\n"))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := importFiles(t, m, export.OSFile(filepath.Join(sourcetest.SharedDir(t, "zendesk"), "tickets.json")))
	if err != nil {
		t.Fatal(err)
	}
	last := latestByTicket(t, outs)
	if len(outs) == 0 || len(last) == 0 {
		t.Fatalf("outcomes %+v", outs)
	}
	for id, e := range last {
		d := e.Data.(*schemas.Ticket)
		if d.AccountID != "terraform-org" || d.CSATScore != nil {
			t.Errorf("%s: %+v", id, d)
		}
	}
}

func TestBadPages(t *testing.T) {
	good, err := os.ReadFile(kestrel + "zendesk/incremental-tickets-1.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, content, want string }{
		{"truncated", string(good[:len(good)/3]), "the page ends early (truncated download?)"},
		{"not an export", `{"users": []}`, `p.json:1: field "tickets": no "tickets" array`},
		{"rating without ticket", `{"satisfaction_ratings": [{"id": 1, "score": "good"}]}`, `p.json:1: field "satisfaction_ratings[0].ticket_id": missing`},
		{"bad time", `{"tickets": [{"id": 1, "created_at": "03/04/2026"}]}`, `p.json:1: field "tickets[0]": not a Zendesk ticket`},
	} {
		outs, err := importFiles(t, nil, sourcetest.File("p.json", c.content), export.OSFile(kestrel+"zendesk/satisfaction_ratings.json"))
		var fe *export.FileError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || len(outs) != 0 {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
