package hubspot_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func importFiles(t *testing.T, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, hubspot.Import, m, files...)
}

func kestrelMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func byDeal(t *testing.T, outs []export.Outcome) map[string][]sources.Event {
	t.Helper()
	by := map[string][]sources.Event{}
	for _, o := range outs {
		if o.Status() != "mapped" {
			t.Errorf("%s:%d %s: %s %s %v", o.File, o.Line, o.Status(), o.Ignored, o.Rejected, o.Unmapped)
		}
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			by[e.Key()] = append(by[e.Key()], e)
		}
	}
	return by
}

func last(evs []sources.Event, typ string) sources.Event {
	var out sources.Event
	for _, e := range evs {
		if strings.HasPrefix(e.Type, typ) && !e.Time.Before(out.Time) {
			out = e
		}
	}
	return out
}

// TestAPIPages: deals with propertiesWithHistory become an event per dated
// change, each with the deal's state then.
func TestAPIPages(t *testing.T) {
	outs, err := importFiles(t, kestrelMapping(t), export.OSFile(kestrel+"hubspot/deals-1.json"), export.OSFile(kestrel+"hubspot/deals-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	by := byDeal(t, outs)
	if len(outs) != 14 {
		t.Fatalf("%d deals", len(outs))
	}
	// Deal 31870012841: created in appointmentscheduled with 11625 GBP,
	// raised to 15500 three days later, won on 2026-03-04.
	evs := by[hubspot.DealID("31870012841")]
	var got []string
	for _, e := range evs {
		o := e.Data.(*schemas.Opportunity)
		got = append(got, strings.TrimPrefix(e.Type, "crm.opportunity.")+":"+o.Stage+":"+o.Outcome)
	}
	if strings.Join(got, " ") != "created:appointmentscheduled:open stage_changed:appointmentscheduled:open closed:closedwon:won" {
		t.Errorf("events %v", got)
	}
	first, won := evs[0].Data.(*schemas.Opportunity), evs[2].Data.(*schemas.Opportunity)
	if *first.Amount != 11625 || first.AmountUSD != 14763.75 || *won.Amount != 15500 || won.AmountUSD != 19685 || *won.Currency != "GBP" ||
		won.ClosedAt.Format(time.RFC3339) != "2026-03-04T17:46:00Z" || won.AccountID != "pebble-pine" || won.Segment != "smb" {
		t.Errorf("first %+v\nwon %+v", first, won)
	}
	// Deals without a close date: open ones have none; a closed one is
	// closed when its stage says so.
	for id, evs := range by {
		if strings.HasSuffix(id, "/security-review") {
			continue
		}
		o := last(evs, "crm.opportunity").Data.(*schemas.Opportunity)
		if (o.Outcome == "open") != (o.ClosedAt == nil) {
			t.Errorf("%s: outcome %s closed_at %v", id, o.Outcome, o.ClosedAt)
		}
	}
	// A review requested and completed.
	reviews := 0
	for _, evs := range by {
		for _, e := range evs {
			if r, ok := e.Data.(*schemas.SecurityReview); ok && r.Status == "completed" {
				reviews++
			}
		}
	}
	if reviews == 0 {
		t.Error("no completed security review")
	}
}

// TestCSV: the UI export shows labels ("Closed Won", "New Business"),
// date-times in the portal's zone without an offset, and no close date
// for open deals.
func TestCSV(t *testing.T) {
	outs, err := importFiles(t, kestrelMapping(t), export.OSFile(kestrel+"hubspot/deals-export.csv"))
	if err != nil {
		t.Fatal(err)
	}
	by := byDeal(t, outs)
	api, _ := importFiles(t, kestrelMapping(t), export.OSFile(kestrel+"hubspot/deals-1.json"), export.OSFile(kestrel+"hubspot/deals-2.json"))
	apiBy := byDeal(t, api)
	// The CSV's state of every deal is the API's latest state, but for
	// close dates, which the CSV shows as days.
	deals := 0
	for id, evs := range by {
		if strings.HasSuffix(id, "/security-review") {
			continue
		}
		deals++
		c := last(evs, "crm.opportunity").Data.(*schemas.Opportunity)
		a := last(apiBy[id], "crm.opportunity").Data.(*schemas.Opportunity)
		if c.Outcome != a.Outcome || c.AmountUSD != a.AmountUSD || c.DealType != a.DealType || c.AccountID != a.AccountID ||
			!c.CreatedAt.Equal(a.CreatedAt.Truncate(time.Minute)) || (c.ClosedAt == nil) != (a.ClosedAt == nil) {
			t.Errorf("%s: csv %+v\napi %+v", id, c, a)
		}
	}
	if deals != 14 {
		t.Errorf("%d deals", deals)
	}
	// 2026-02-25 11:47 in London (GMT) is 11:47Z.
	c := last(by[hubspot.DealID("31870012841")], "crm.opportunity").Data.(*schemas.Opportunity)
	if c.CreatedAt.Format(time.RFC3339) != "2026-02-25T11:47:00Z" || c.ClosedAt.Format(time.DateOnly) != "2026-03-04" {
		t.Errorf("times %v %v", c.CreatedAt, c.ClosedAt)
	}

	head := "Record ID,Deal Stage,Create Date,Close Date,Associated Company IDs,Customer Segment,Amount\n"
	outs, err = importFiles(t, kestrelMapping(t), sourcetest.File("d.csv", head+
		"1,Closed Won,2026-01-05 10:00,,18234000101,SMB,100\n"+ // closed, no close date, no Last Modified Date
		"2,Negotiating,2026-01-05 10:00,,18234000101,SMB,100\n")) // a custom stage without flags
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Status() != "rejected" || !strings.Contains(outs[0].Rejected, "its close cannot be dated") ||
		outs[1].Status() != "rejected" || outs[1].Unmapped[0].Suggestion() != `crm.stages: {"Negotiating": open|won|lost|no_decision}` {
		t.Errorf("%+v", outs)
	}
	for _, c := range []struct{ content, want string }{
		{"Record ID,Deal Name\n1,a\n", `d.csv:1: field "company": header: missing column "company", "dealstage", "createdate"`},
		{head + "1,Closed Won,05.01.2026,,18234000101,SMB,100\n", `d.csv:2: field "Create Date": date "05.01.2026": want YYYY-MM-DD`},
	} {
		_, err := importFiles(t, kestrelMapping(t), sourcetest.File("d.csv", c.content))
		var fe *export.FileError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
}

// TestSameIDsAsWebhook: the change a webhook delivers and the same change
// in a saved deal's property history are one event.
func TestSameIDsAsWebhook(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte("version: 1\ncrm:\n  segments: {Enterprise: enterprise}\n  hubspot:\n    properties: {segment: customer_segment}\n"))
	if err != nil {
		t.Fatal(err)
	}
	current := sourcetest.Local(t, "api.deal.json")
	fetch := func(ctx context.Context, id string, props []string) (*hubspot.Deal, error) {
		var d hubspot.Deal
		return &d, json.Unmarshal(current, &d)
	}
	hook, err := hubspot.Map(context.Background(), m, hubspot.Delivery{Body: sourcetest.Local(t, "webhook.deal.propertyChange.json")}, fetch)
	if err != nil || len(hook.Events) == 0 {
		t.Fatalf("webhook %v %+v", err, hook)
	}
	// The same deal saved from the list API with the histories of the two
	// properties the webhook reported (at its occurredAt times).
	saved := sourcetest.Edit(t, current, map[string]any{"propertiesWithHistory": map[string]any{
		"dealstage": []any{map[string]any{"value": "closedwon", "timestamp": "2025-03-11T07:55:20.512Z"}, map[string]any{"value": "contractsent", "timestamp": "2025-02-10T09:40:00Z"}},
		"amount":    []any{map[string]any{"value": "48000", "timestamp": "2025-03-11T07:55:20.530Z"}, map[string]any{"value": "40000", "timestamp": "2025-02-10T09:40:00Z"}},
	}})
	outs, err := importFiles(t, m, sourcetest.File("deals.json", `{"results": [`+string(saved)+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := hook.Events[0]
	found := false
	for _, e := range outs[0].Events {
		if e.ID == want.ID {
			found = e.Source == want.Source && e.Type == want.Type && e.Time.Equal(want.Time)
		}
	}
	if !found {
		b, _ := json.Marshal(outs[0].Events)
		t.Errorf("webhook event %s %s %v not among the imported %s", want.ID, want.Type, want.Time, b)
	}
}
