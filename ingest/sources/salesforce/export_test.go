package salesforce_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/salesforce"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func run(t *testing.T, m *mapping.File, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, salesforce.Import, m, files...)
}

func kestrelMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// events returns the events of outs by entity, in order.
func events(t *testing.T, outs []export.Outcome) map[string][]sources.Event {
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

// TestKestrel imports the realistic exports of a German-locale org: a BOM,
// quoted newlines, "1.234.567,89" amounts in EUR/GBP/USD, dates
// "31.12.2025" and date-times in Europe/Berlin, the report footer.
func TestKestrel(t *testing.T) {
	outs, err := run(t, kestrelMapping(t), export.OSFile(kestrel+"salesforce/opportunities.csv"), export.OSFile(kestrel+"salesforce/opportunity_field_history.csv"))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]int{}
	for _, o := range outs {
		status[o.Status()]++
	}
	if status["mapped"] != len(outs) || len(outs) != 36+157 {
		t.Fatalf("outcomes %v of %d", status, len(outs))
	}
	by := events(t, outs)
	// Opportunity 6: GBP 1.234.567,89 (raised from 987.654,31 two days after
	// creation), lost for price, a review requested 03.02. and completed
	// 05.02.2026.
	id := salesforce.OpportunityID("0068d00000KsT06AAF")
	evs := by[id]
	if len(evs) != 5 {
		t.Fatalf("%s: %d events", id, len(evs))
	}
	first, last := evs[0].Data.(*schemas.Opportunity), evs[len(evs)-1].Data.(*schemas.Opportunity)
	if evs[0].Type != "crm.opportunity.created" || first.Stage != "Prospecting" || *first.Amount != 987654.31 || first.SecurityReviewRequired {
		t.Errorf("created: %s %+v", evs[0].Type, first)
	}
	if evs[0].Time != time.Date(2026, 1, 28, 9, 19, 0, 0, time.UTC) { // 28.01.2026 10:19 CET
		t.Errorf("created at %v", evs[0].Time)
	}
	if evs[4].Type != "crm.opportunity.closed" || last.Outcome != "lost" || *last.LossReason != "price" ||
		*last.Currency != "GBP" || *last.Amount != 1234567.89 || last.AmountUSD != 1567901.22 ||
		last.ClosedAt.Format(time.DateOnly) != "2026-04-05" || !last.SecurityReviewRequired || last.Segment != "smb" || last.AccountID != "marlowe-finch" {
		t.Errorf("closed: %s %+v", evs[4].Type, last)
	}
	rev := by[salesforce.ReviewID("0068d00000KsT06AAF")]
	if len(rev) != 2 || rev[1].Data.(*schemas.SecurityReview).CompletedAt.Format(time.DateOnly) != "2026-02-05" {
		t.Errorf("review %+v", rev)
	}
	// Ids are the same on a second import.
	outs2, _ := run(t, kestrelMapping(t), export.OSFile(kestrel+"salesforce/opportunities.csv"), export.OSFile(kestrel+"salesforce/opportunity_field_history.csv"))
	by2 := events(t, outs2)
	for k, evs := range by {
		for i, e := range evs {
			if by2[k][i].ID != e.ID {
				t.Fatalf("%s: ids differ between imports", k)
			}
		}
	}
}

const header = `"Opportunity ID","Account ID","Account Name","Type","Stage","Opportunity Currency","Amount","Close Date","Created Date","Last Modified Date","Segment","Loss Reason"` + "\n"

func TestMapping(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte("version: 1\ncrm:\n  segments: {Enterprise: enterprise}\n  currency: {rates: {EUR: 1.1}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	opps := header +
		// 15-character ids, no history: dated by Last Modified Date.
		`"0068d00000KsT99","0018d00000QxA01","Acme","New Customer","Closed Won","EUR","1,000.50","6/30/2026","3/1/2026","7/1/2026 9:30 AM","Enterprise",""` + "\n" +
		`"0068d00000KsT98","0018d00000QxA01","Acme","New Customer","Closed Lost","CHF","2,000","6/30/2026","3/1/2026","","Enterprise","Weather"` + "\n" +
		`"0068d00000KsT97","0018d00000QxA01","Acme","Partner Deal","Closed Won","USD","2,000","6/30/2026","3/1/2026","","Public Sector",""` + "\n" +
		`"0068d00000KsT96","0018d00000QxA01","Acme","New Customer","Closed Lost","USD","2,000","6/30/2026","3/1/2026","","Enterprise","Weather"` + "\n" +
		`"0068d00000KsT96","0018d00000QxA01","Acme","New Customer","Closed Lost","USD","2,000","6/30/2026","3/1/2026","","Enterprise","Weather"` + "\n"
	hist := `"Opportunity ID","Edit Date","Field / Event","Old Value","New Value"` + "\n" +
		`"0068d00000KsT99","6/1/2026 9:00 AM","Stage","Prospecting","Closed Won"` + "\n" +
		`"0068d00000KsT99","6/1/2026 9:00 AM","Opportunity Owner","Ann","Bob"` + "\n" +
		`"0068d00000KsX00","6/1/2026 9:00 AM","Stage","Prospecting","Closed Won"` + "\n"
	outs, err := run(t, m, sourcetest.File("o.csv", opps), sourcetest.File("h.csv", hist))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, detail string }{
		{"mapped", ""},
		{"rejected", `crm.currency.rates has no entry for "CHF"`},
		{"rejected", `crm.segments has no entry for "Public Sector"; crm.deal_types has no entry for "Partner Deal"`},
		{"mapped", `crm.loss_reasons has no entry for "Weather"`}, // optional: left out, reported
		{"rejected", "opportunity 0068d00000KsT96AAF is also on line 5"},
		{"mapped", ""},
		{"ignored", `field "Opportunity Owner" is not one the contract uses`},
		{"ignored", "opportunity not in the Opportunities report"},
	}
	if len(outs) != len(want) {
		t.Fatalf("%d outcomes", len(outs))
	}
	for i, w := range want {
		o := outs[i]
		var us []string
		for _, u := range o.Unmapped {
			us = append(us, u.String())
		}
		detail := o.Ignored + o.Rejected + strings.Join(us, "; ")
		if o.Status() != w.status || !strings.Contains(detail, w.detail) {
			t.Errorf("outcome %d (%s:%d): %s %q, want %s %q", i, o.File, o.Line, o.Status(), detail, w.status, w.detail)
		}
	}
	evs := events(t, outs)[salesforce.OpportunityID("0068d00000KsT99AAF")]
	if len(evs) != 2 || evs[1].Time != time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) || evs[0].Data.(*schemas.Opportunity).Stage != "Prospecting" ||
		evs[1].Data.(*schemas.Opportunity).AmountUSD != 1100.55 {
		b, _ := json.Marshal(evs)
		t.Errorf("events %s", b)
	}
	if got := salesforce.ID18("0068d00000KsT99"); got != "0068d00000KsT99AAF" {
		t.Errorf("ID18 = %s", got)
	}
}

func TestReviewStatusField(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte(`version: 1
crm:
  segments: {"*": smb}
  salesforce:
    review_status: {field: Security Review Status, requested: [Requested, In Progress], completed: [Completed]}
`))
	if err != nil {
		t.Fatal(err)
	}
	opps := header + `"0068d00000KsT99AAF","0018d00000QxA01AAB","Acme","New Customer","Closed Won","USD","1,000","6/30/2026","3/1/2026","","X",""` + "\n"
	hist := `"Opportunity ID","Edit Date","Field / Event","Old Value","New Value"` + "\n" +
		`"0068d00000KsT99AAF","3/2/2026 9:00 AM","Security Review Status","","Requested"` + "\n" +
		`"0068d00000KsT99AAF","3/5/2026 4:30 PM","Security Review Status","Requested","In Progress"` + "\n" +
		`"0068d00000KsT99AAF","3/9/2026 11:15 AM","Security Review Status","In Progress","Completed"` + "\n"
	outs, err := run(t, m, sourcetest.File("o.csv", opps), sourcetest.File("h.csv", hist))
	if err != nil {
		t.Fatal(err)
	}
	rev := events(t, outs)[salesforce.ReviewID("0068d00000KsT99AAF")]
	if len(rev) != 2 {
		t.Fatalf("%d review events", len(rev))
	}
	r := rev[1].Data.(*schemas.SecurityReview)
	if r.RequestedAt != time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) || *r.CompletedAt != time.Date(2026, 3, 9, 11, 15, 0, 0, time.UTC) {
		t.Errorf("review %+v", r)
	}
}

// TestBadFiles: each problem is an error naming file, line and column, and
// nothing is emitted.
func TestBadFiles(t *testing.T) {
	m := kestrelMapping(t)
	good := `"Opportunity ID","Account ID","Stage","Amount","Close Date","Created Date","Customer Segment"` + "\n"
	for _, c := range []struct{ name, content, want string }{
		{"wrong header", "\"Id\",\"Name\"\n\"1\",\"a\"\n", `o.csv:1: field "Opportunity ID": header: missing column "Opportunity ID", "Account ID", "Stage", "Amount", "Close Date", "Created Date", "Customer Segment"`},
		{"date format", good + `"006A","001A","Closed Won","1.000,00","2026-06-30","01.03.2026","Mittelstand"` + "\n", `o.csv:2: field "Close Date": date "2026-06-30" is in none of the formats "DD.MM.YYYY", "DD.MM.YYYY HH:mm" (set crm.salesforce.locale`},
		{"number format", good + `"006A","001A","Closed Won","1,000.00","30.06.2026","01.03.2026","Mittelstand"` + "\n", `o.csv:2: field "Amount": number "1,000.00" does not match the number format 1.000.000,25`},
		{"history date", `"Opportunity ID","Edit Date","Field / Event","Old Value","New Value"` + "\n\"006A\",\"6/1/2026 9:00 AM\",\"Stage\",\"a\",\"b\"\n", `o.csv:2: field "Edit Date": date "6/1/2026 9:00 AM" is in none of the formats "DD.MM.YYYY HH:mm"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			outs, err := run(t, m, sourcetest.File("o.csv", c.content), export.OSFile(kestrel+"salesforce/opportunities.csv"))
			var fe *export.FileError
			if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if len(outs) != 0 {
				t.Errorf("%d outcomes emitted", len(outs))
			}
		})
	}
}
