package importer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/importer"
	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../sources/testdata/kestrel/"

func kestrelMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// capture is a Publisher keeping the published lines.
type capture struct{ lines []string }

func (c *capture) publish(_ context.Context, r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		c.lines = append(c.lines, sc.Text())
	}
	return len(c.lines), sc.Err()
}

func source(t *testing.T, name string) importer.Source {
	t.Helper()
	s, ok := importer.Lookup(name)
	if !ok {
		t.Fatalf("no source %s", name)
	}
	return s
}

func files(names ...string) []export.File {
	var out []export.File
	for _, n := range names {
		out = append(out, export.OSFile(n))
	}
	return out
}

func TestRunPublishesEveryEventOnce(t *testing.T) {
	var c capture
	s, err := importer.Run(context.Background(), source(t, "salesforce"),
		files(kestrel+"salesforce/opportunities.csv", kestrel+"salesforce/opportunity_field_history.csv"),
		importer.Options{Mapping: kestrelMapping(t), Publish: c.publish})
	if err != nil {
		t.Fatal(err)
	}
	if s.Read != 193 || s.Mapped != 193 || s.Events != len(c.lines) || s.Published != s.Events || s.Events == 0 {
		t.Fatalf("summary %+v, %d lines", s.Counts, len(c.lines))
	}
	ids := map[string]bool{}
	for _, l := range c.lines {
		ev, err := schemas.Decode([]byte(l), nil)
		if err != nil {
			t.Fatalf("published an event the decoder rejects: %v\n%s", err, l)
		}
		if ids[ev.Source+" "+ev.ID] {
			t.Fatalf("event %s published twice", ev.ID)
		}
		ids[ev.Source+" "+ev.ID] = true
		if ev.Time.Before(s.First) || ev.Time.After(s.Last) {
			t.Errorf("event at %v outside first/last %v..%v", ev.Time, s.First, s.Last)
		}
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"salesforce: 193 records read from 2 files: 193 mapped, 0 ignored, 0 rejected", "opportunities.csv", "published"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, text.String())
		}
	}
}

func TestDryRunAndSince(t *testing.T) {
	var c capture
	m := kestrelMapping(t)
	all, err := importer.Run(context.Background(), source(t, "jira"), files(kestrel+"jira/search-1.json", kestrel+"jira/search-2.json"),
		importer.Options{Mapping: m, DryRun: true, Publish: c.publish})
	if err != nil || len(c.lines) != 0 || all.Events == 0 || all.Published != 0 {
		t.Fatalf("dry run: %v, %d published, %+v", err, len(c.lines), all)
	}
	since := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s, err := importer.Run(context.Background(), source(t, "jira"), files(kestrel+"jira/search-1.json", kestrel+"jira/search-2.json"),
		importer.Options{Mapping: m, Since: since, Publish: c.publish})
	if err != nil {
		t.Fatal(err)
	}
	if s.Events+s.BeforeSince != all.Events || s.BeforeSince == 0 || len(c.lines) != s.Events || s.First.Before(since) {
		t.Errorf("since: %d events + %d before, of %d; first %v", s.Events, s.BeforeSince, all.Events, s.First)
	}
}

// TestInvalidFilePublishesNothing: one bad file among good ones stops the
// run before anything is published, and the error names file and line.
func TestInvalidFilePublishesNothing(t *testing.T) {
	var c capture
	bad := export.File{Name: "history-broken.csv", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("\"Opportunity ID\",\"Edit Date\",\"Field / Event\",\"Old Value\",\"New Value\"\n\"006\",\"2026-03-01 10:00\",\"Stage\",\"a\",\"b\"\n")), nil
	}}
	s, err := importer.Run(context.Background(), source(t, "salesforce"),
		append(files(kestrel+"salesforce/opportunities.csv"), bad), importer.Options{Mapping: kestrelMapping(t), Publish: c.publish})
	var ve *importer.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `history-broken.csv:2: field "Edit Date"`) || !strings.Contains(err.Error(), "nothing published") {
		t.Fatalf("error %v", err)
	}
	if len(c.lines) != 0 || s.Published != 0 || !s.Invalid {
		t.Errorf("published %d lines: %+v", len(c.lines), s)
	}
}

// TestInvalidLastFilePublishesNothing: for every source, valid files
// followed by a truncated one (the last of the run, so every valid record
// was read and mapped first, and streaming sources emitted theirs) fail
// the run with the truncated file's name and publish nothing.
func TestInvalidLastFilePublishesNothing(t *testing.T) {
	good := map[string]string{
		"github": "github/code-scanning/kestrel-payments-api.json", "hubspot": "hubspot/deals-1.json", "jira": "jira/search-1.json",
		"pagerduty": "pagerduty/incidents.json", "salesforce": "salesforce/opportunities.csv", "zendesk": "zendesk/incremental-tickets-1.json",
	}
	for _, src := range importer.Sources() {
		t.Run(src.Name, func(t *testing.T) {
			name, ok := good[src.Name]
			if !ok {
				t.Fatalf("no valid file for source %s in this test", src.Name)
			}
			b, err := os.ReadFile(kestrel + name)
			if err != nil {
				t.Fatal(err)
			}
			cut := b[:len(b)*2/3]
			if src.Name == "salesforce" { // a CSV: an unclosed quote
				cut = append(b[:len(b):len(b)], []byte("\"0068d00000KsT99AAF\",\"unclosed\n")...)
			}
			truncated := export.File{Name: "truncated-" + filepath.Base(name), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cut)), nil }}
			var c capture
			s, err := importer.Run(context.Background(), src, append(files(kestrel+name), truncated), importer.Options{Mapping: kestrelMapping(t), Publish: c.publish})
			var ve *importer.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), "truncated-"+filepath.Base(name)) {
				t.Fatalf("error %v", err)
			}
			if len(c.lines) != 0 || s.Published != 0 || !s.Invalid {
				t.Errorf("published %d lines after reading %d records", len(c.lines), s.Read)
			}
			// The sources that emit file by file did emit the valid file's
			// records: they were spooled, and dropped.
			if (src.Name == "hubspot" || src.Name == "jira") && s.Read == 0 {
				t.Errorf("%s emitted nothing before the bad file", src.Name)
			}
		})
	}
}

// TestRejections: unmapped picklist values and events the contract refuses
// are counted with reasons and suggestions, never published.
func TestRejections(t *testing.T) {
	m, err := mapping.Parse("m.yaml", []byte("version: 1\ncrm:\n  segments: {Mittelstand: mid_market, Kleinunternehmen: smb}\n  currency: {rates: {EUR: 1.08, GBP: 1.27}}\n  salesforce: {locale: de_DE, time_zone: Europe/Berlin, columns: {segment: Customer Segment}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var c capture
	s, err := importer.Run(context.Background(), source(t, "salesforce"),
		files(kestrel+"salesforce/opportunities.csv", kestrel+"salesforce/opportunity_field_history.csv"),
		importer.Options{Mapping: m, Publish: c.publish})
	if err != nil {
		t.Fatal(err)
	}
	us := s.Unmapped.Sorted()
	if s.Rejected == 0 || len(us) == 0 || us[0].Key != "crm.segments" || us[0].Value != "Großkunde" ||
		us[0].Suggestion() != `crm.segments: {"Großkunde": smb|mid_market|enterprise}` {
		t.Fatalf("rejected %d, unmapped %+v", s.Rejected, us)
	}
	for _, l := range c.lines {
		if strings.Contains(l, "Brightwater") {
			t.Fatalf("a rejected deal was published: %s", l)
		}
	}
	b, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(b), `"suggestion":"crm.segments: {\"Großkunde\": smb|mid_market|enterprise}"`) {
		t.Errorf("json %s %v", b, err)
	}

	// An event the contract refuses (an id over 256 characters) rejects
	// its record.
	long := importer.Source{Name: "test", Import: func(_ context.Context, _ []export.File, _ *mapping.File, emit func(export.Outcome) error) error {
		ok := sources.Event{ID: "a", Source: "t", Type: "catalog.service.upserted", Time: time.Now(),
			Data: &schemas.Service{ServiceID: "svc", Team: "t", Department: "d", Tier: "low", EffectiveAt: time.Now()}}
		bad := ok
		bad.ID, bad.Data = "b", &schemas.Service{ServiceID: strings.Repeat("x", 300), Team: "t", Department: "d", Tier: "low", EffectiveAt: time.Now()}
		if err := emit(export.Outcome{File: "f", Line: 1, Events: []sources.Event{ok}}); err != nil {
			return err
		}
		return emit(export.Outcome{File: "f", Line: 2, Events: []sources.Event{bad}})
	}}
	c = capture{}
	s, err = importer.Run(context.Background(), long, nil, importer.Options{Publish: c.publish})
	if err != nil || s.Mapped != 1 || s.Rejected != 1 || len(c.lines) != 1 {
		t.Fatalf("%v %+v %d", err, s.Counts, len(c.lines))
	}
	for r := range s.RejectedReasons {
		if !strings.Contains(r, "fails the contract") || !strings.Contains(r, "data.service_id") {
			t.Errorf("reason %q", r)
		}
	}
}

// TestReasonsGrouped: reasons naming each record's id are counted as one
// reason, with the first record as an example, so a year of tickets
// without an organization is one line of the summary; quoted values stay
// apart (they say what to add to the mapping file).
func TestReasonsGrouped(t *testing.T) {
	src := importer.Source{Name: "test", Import: func(_ context.Context, _ []export.File, _ *mapping.File, emit func(export.Outcome) error) error {
		for i := 0; i < 5000; i++ {
			reason := fmt.Sprintf("ticket %d has no organization, so no customer account", 4000+i)
			if i%2 == 1 {
				reason = fmt.Sprintf("incident Q%dLF6GH on service %q (priority %q) is not a security incident in the mapping file", i, []string{"Payments API", "Web"}[i%4/2], "P3")
			}
			if err := emit(export.Outcome{File: "t.json", Line: i + 1, Ignored: reason}); err != nil {
				return err
			}
		}
		return nil
	}}
	s, err := importer.Run(context.Background(), src, nil, importer.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"ticket … has no organization, so no customer account":                                                2500,
		`incident … on service "Payments API" (priority "P3") is not a security incident in the mapping file`: 1250,
		`incident … on service "Web" (priority "P3") is not a security incident in the mapping file`:          1250,
	}
	if len(s.IgnoredReasons) != len(want) {
		t.Fatalf("%d reasons: %v", len(s.IgnoredReasons), s.IgnoredReasons)
	}
	for r, n := range want {
		if s.IgnoredReasons[r] != n {
			t.Errorf("%q: %d, want %d", r, s.IgnoredReasons[r], n)
		}
	}
	if e := s.Examples["ticket … has no organization, so no customer account"]; e != "t.json:1: ticket 4000 has no organization, so no customer account" {
		t.Errorf("example %q", e)
	}
	var b bytes.Buffer
	s.WriteText(&b)
	if n := strings.Count(b.String(), "\n"); n > 12 {
		t.Errorf("summary of %d lines:\n%s", n, b.String())
	}
	for in, want := range map[string]string{
		"deal 18230411007 is archived (deleted)":                              "deal … is archived (deleted)",
		"status of deployment 1452004, which no deployments page given lists": "status of deployment …, which no deployments page given lists",
		`field "Next Step 2" is not one the contract uses`:                    `field "Next Step 2" is not one the contract uses`,
		"workflow_job concluded \"cancelled\": no gate verdict":               "workflow_job concluded \"cancelled\": no gate verdict",
		"an older copy of a ticket the export lists again":                    "an older copy of a ticket the export lists again",
	} {
		if got := importer.ReasonKind(in); got != want {
			t.Errorf("ReasonKind(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublishFailsMidway: when Kafka fails part-way through publishing,
// the run fails saying how many events were acknowledged, and importing
// the same files again publishes the same event ids (what went through is
// not counted twice: ingest keeps one event per id).
func TestPublishFailsMidway(t *testing.T) {
	fs := files(kestrel+"jira/search-1.json", kestrel+"jira/search-2.json")
	var first []string
	broken := func(_ context.Context, r io.Reader) (int, error) {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			if len(first) == 3 {
				return len(first), errors.New("kafka: broker went away")
			}
			first = append(first, sc.Text())
		}
		return len(first), sc.Err()
	}
	s, err := importer.Run(context.Background(), source(t, "jira"), fs, importer.Options{Mapping: kestrelMapping(t), Publish: broken})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("3 of %d events acknowledged; importing again is safe", s.Events)) || s.Published != 3 || s.Events <= 3 {
		t.Fatalf("%v, published %d of %d", err, s.Published, s.Events)
	}
	var c capture
	if _, err := importer.Run(context.Background(), source(t, "jira"), fs, importer.Options{Mapping: kestrelMapping(t), Publish: c.publish}); err != nil {
		t.Fatal(err)
	}
	again := map[string]bool{}
	for _, l := range c.lines {
		ev, err := schemas.Decode([]byte(l), nil)
		if err != nil {
			t.Fatal(err)
		}
		again[ev.Source+" "+ev.ID] = true
	}
	for _, l := range first {
		ev, _ := schemas.Decode([]byte(l), nil)
		if !again[ev.Source+" "+ev.ID] {
			t.Errorf("event %s of the failed run has another id in the second", ev.ID)
		}
	}
}
