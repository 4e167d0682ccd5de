package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

func testMapping(t *testing.T) *mapping.File {
	t.Helper()
	m, err := mapping.Parse("test.yaml", []byte(`
version: 1
accounts:
  - id: globex
    name: Globex Corporation
    hubspot: 9876543210
crm:
  segments: {Enterprise: enterprise, "Mid-Market": mid_market}
  loss_reasons: {"Security review failed": security}
  hubspot:
    properties:
      segment: customer_segment
      security_review_requested: security_review_requested_date
      security_review_completed: security_review_completed_date
`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeCRM serves GET /crm/v3/objects/deals/{id} from deals in HubSpot's
// documented response shape, checking the request as HubSpot would.
type fakeCRM struct {
	t     *testing.T
	mu    sync.Mutex
	deals map[string][]byte
	reqs  []string
}

func (f *fakeCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r.URL.RequestURI())
	if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer pat-na1-test" {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`))
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/crm/v3/objects/deals/")
	if !ok || r.URL.Query().Get("associations") != "companies" {
		http.NotFound(w, r)
		return
	}
	body, ok := f.deals[id]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"status":"error","message":"Object not found.","category":"OBJECT_NOT_FOUND"}`))
		return
	}
	// Only the requested properties come back, as HubSpot does.
	var d map[string]any
	json.Unmarshal(body, &d)
	want := map[string]bool{}
	for _, p := range strings.Split(r.URL.Query().Get("properties"), ",") {
		want[p] = true
	}
	props := d["properties"].(map[string]any)
	for k := range props {
		if !want[k] {
			delete(props, k)
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	json.NewEncoder(w).Encode(d)
}

func newCRM(t *testing.T, deals map[string][]byte) (*fakeCRM, *Client) {
	f := &fakeCRM{t: t, deals: deals}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := &Client{BaseURL: srv.URL, Token: "pat-na1-test"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return f, c
}

func deal(t *testing.T, set map[string]any) []byte {
	return sourcetest.Edit(t, sourcetest.Local(t, "api.deal.json"), set)
}

func mapDelivery(t *testing.T, body []byte, c *Client) sources.Result {
	t.Helper()
	r, err := Map(context.Background(), testMapping(t), Delivery{Body: body}, c.Deal)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMap(t *testing.T) {
	won := sourcetest.Local(t, "api.deal.json")
	lost := deal(t, map[string]any{"properties.dealstage": "closedlost", "properties.hs_is_closed_won": "false",
		"properties.closed_lost_reason": "Security review failed", "properties.security_review_completed_date": nil})
	open := deal(t, map[string]any{"properties.dealstage": "appointmentscheduled", "properties.hs_is_closed": "false",
		"properties.hs_is_closed_won": "false", "properties.customer_segment": "Mid-Market", "properties.dealtype": "newbusiness",
		"properties.security_review_requested_date": nil, "properties.security_review_completed_date": nil})
	cases := []struct {
		name  string
		deal  []byte
		body  []byte
		types []string
		check func(t *testing.T, o *schemas.Opportunity, evs []*schemas.Event)
	}{
		{"won", won, sourcetest.Local(t, "webhook.deal.propertyChange.json"), []string{"crm.opportunity.closed", "security.review.completed"},
			func(t *testing.T, o *schemas.Opportunity, evs []*schemas.Event) {
				if o.OpportunityID != "hubspot:deal/18230411007" || o.AccountID != "globex" || *o.AccountName != "Globex Corporation" ||
					o.Segment != "enterprise" || o.DealType != "expansion" || o.Outcome != "won" || o.AmountUSD != 48000 ||
					!o.SecurityReviewRequired || *o.SecurityReviewID != "hubspot:deal/18230411007/security-review" ||
					o.ClosedAt.Format(time.RFC3339) != "2025-03-11T07:55:20Z" {
					t.Errorf("%+v", o)
				}
				// Dated by the latest occurredAt of the deal's events.
				if evs[0].Time.UnixMilli() != 1741679720530 {
					t.Errorf("time %v", evs[0].Time)
				}
				r := evs[1].Payload.(*schemas.SecurityReview)
				if r.Status != "completed" || r.CompletedAt.Sub(r.RequestedAt) != 7*24*time.Hour || r.Channel != "questionnaire" || r.AccountID != "globex" {
					t.Errorf("%+v", r)
				}
			}},
		{"lost", lost, sourcetest.Local(t, "webhook.deal.propertyChange.json"), []string{"crm.opportunity.closed", "security.review.requested"},
			func(t *testing.T, o *schemas.Opportunity, evs []*schemas.Event) {
				if o.Outcome != "lost" || *o.LossReason != "security" {
					t.Errorf("%+v", o)
				}
				if r := evs[1].Payload.(*schemas.SecurityReview); r.Status != "requested" || r.CompletedAt != nil {
					t.Errorf("%+v", r)
				}
			}},
		{"created", open, sourcetest.Local(t, "webhook.deal.creation.json"), []string{"crm.opportunity.created"},
			func(t *testing.T, o *schemas.Opportunity, evs []*schemas.Event) {
				if o.Outcome != "open" || o.ClosedAt != nil || o.Segment != "mid_market" || o.DealType != "new" || o.SecurityReviewRequired {
					t.Errorf("%+v", o)
				}
			}},
		{"stage_changed", open, sourcetest.Local(t, "webhook.object.propertyChange.json"), []string{"crm.opportunity.stage_changed"},
			func(t *testing.T, o *schemas.Opportunity, evs []*schemas.Event) {
				if o.Stage != "appointmentscheduled" {
					t.Errorf("%+v", o)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			crm, client := newCRM(t, map[string][]byte{"18230411007": c.deal})
			r := mapDelivery(t, c.body, client)
			if len(r.Events) != len(c.types) {
				t.Fatalf("%+v", r)
			}
			var evs []*schemas.Event
			for i, e := range r.Events {
				ev := sourcetest.Decode(t, e)
				if ev.Type != c.types[i] {
					t.Errorf("event %d: %s, want %s", i, ev.Type, c.types[i])
				}
				evs = append(evs, ev)
			}
			c.check(t, evs[0].Payload.(*schemas.Opportunity), evs)
			if len(crm.reqs) != 1 { // one fetch per deal, however many of its events
				t.Errorf("requests %v", crm.reqs)
			}
			sourcetest.Golden(t, c.name, r)
		})
	}
}

func TestNotMapped(t *testing.T) {
	cases := []struct {
		name    string
		deal    []byte
		body    []byte
		outcome string
		detail  string
	}{
		{"no company", deal(t, map[string]any{"associations": nil}), sourcetest.Local(t, "webhook.deal.creation.json"), "ignored", "no associated company"},
		{"deleted deal", nil, sourcetest.Local(t, "webhook.deal.creation.json"), "ignored", "archived"},
		{"contact only", nil, []byte(`[{"eventId":1,"subscriptionType":"contact.creation","objectId":5,"occurredAt":1741679720512}]`), "ignored", "no deal changes"},
		{"deal deletion", nil, []byte(`[{"eventId":1,"subscriptionType":"deal.deletion","objectId":5,"occurredAt":1741679720512}]`), "ignored", "no deal changes"},
		{"unmapped segment", deal(t, map[string]any{"properties.customer_segment": "Strategic"}), sourcetest.Local(t, "webhook.deal.creation.json"), "unmapped", "crm.segments Strategic"},
		{"foreign currency", deal(t, map[string]any{"properties.deal_currency_code": "EUR"}), sourcetest.Local(t, "webhook.deal.creation.json"), "unmapped", "crm.currency.rates EUR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deals := map[string][]byte{}
			if c.deal != nil {
				deals["18230411007"] = c.deal
			}
			_, client := newCRM(t, deals)
			r := mapDelivery(t, c.body, client)
			got := r.Ignored
			if len(r.Unmapped) > 0 {
				got = r.Unmapped[0].Key + " " + r.Unmapped[0].Value
			}
			if r.Outcome() != c.outcome || !strings.Contains(got, c.detail) {
				t.Errorf("got %s %q, want %s %q", r.Outcome(), got, c.outcome, c.detail)
			}
		})
	}
	// An unmapped loss reason is reported; the deal is still published without it.
	_, client := newCRM(t, map[string][]byte{"18230411007": deal(t, map[string]any{"properties.hs_is_closed_won": "false", "properties.closed_lost_reason": "Budget cut"})})
	r := mapDelivery(t, sourcetest.Local(t, "webhook.deal.propertyChange.json"), client)
	if len(r.Events) == 0 || len(r.Unmapped) != 1 || r.Unmapped[0].Key != "crm.loss_reasons" || r.Events[0].Data.(*schemas.Opportunity).LossReason != nil {
		t.Errorf("%+v", r)
	}
}

func TestAPIErrors(t *testing.T) {
	_, c := newCRM(t, nil)
	c.Token = "wrong"
	_, err := Map(context.Background(), testMapping(t), Delivery{Body: sourcetest.Local(t, "webhook.deal.creation.json")}, c.Deal)
	var se *sources.APIError
	if err == nil || !errors.As(err, &se) || se.Code != 401 {
		t.Errorf("got %v", err)
	}
	if _, err := Map(context.Background(), testMapping(t), Delivery{Body: sourcetest.Local(t, "webhook.deal.creation.json")}, nil); err == nil {
		t.Error("no fetch: no error")
	}
	if _, err := Map(context.Background(), nil, Delivery{Body: []byte(`{"not":"an array"}`)}, c.Deal); err == nil {
		t.Error("object body accepted")
	}
	for _, bad := range []Client{{}, {Token: "x", BaseURL: "ftp://h"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

// TestImportID: the id of a webhook-driven change is the ChangeID the
// importer computes from the deal's property history for the same change.
func TestImportID(t *testing.T) {
	_, client := newCRM(t, map[string][]byte{"18230411007": sourcetest.Local(t, "api.deal.json")})
	r := mapDelivery(t, sourcetest.Local(t, "webhook.object.propertyChange.json"), client)
	want := sources.ChangeID(System, DealID("18230411007"), "crm.opportunity.closed", time.UnixMilli(1741679720512))
	if r.Events[0].ID != want {
		t.Errorf("%s, want %s", r.Events[0].ID, want)
	}
}

// TestManyDeals: a delivery of 100 deal events is fetched concurrently
// (bounded) and maps every deal, in id order.
func TestManyDeals(t *testing.T) {
	deals := map[string][]byte{}
	var events []map[string]any
	for i := 0; i < 100; i++ {
		id := fmt.Sprint(1000 + i)
		deals[id] = deal(t, map[string]any{"id": id})
		events = append(events, map[string]any{"eventId": i, "subscriptionType": "deal.propertyChange", "objectId": 1000 + i,
			"occurredAt": 1741679720512 + i, "propertyName": "amount", "propertyValue": "1"})
	}
	crm, client := newCRM(t, deals)
	var inFlight, peak atomic.Int32
	fetch := func(ctx context.Context, id string, props []string) (*Deal, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		return client.Deal(ctx, id, props)
	}
	body, _ := json.Marshal(events)
	r, err := Map(context.Background(), testMapping(t), Delivery{Body: body}, fetch)
	if err != nil {
		t.Fatal(err)
	}
	opps := 0
	for _, e := range r.Events {
		if e.Type == "crm.opportunity.closed" {
			if want := DealID(fmt.Sprint(1000 + opps)); e.Key() != want {
				t.Errorf("event %d is %s, want %s", opps, e.Key(), want)
			}
			opps++
		}
	}
	if opps != 100 || len(crm.reqs) != 100 || peak.Load() > FetchConcurrency || peak.Load() < 2 {
		t.Errorf("%d deals, %d requests, peak concurrency %d", opps, len(crm.reqs), peak.Load())
	}
	// A failing API fails the delivery (HubSpot retries it).
	c2 := *client
	c2.Token = "bad"
	if _, err := Map(context.Background(), testMapping(t), Delivery{Body: body}, c2.Deal); err == nil {
		t.Error("API failure did not fail the delivery")
	}
}

// TestSubscriptionTypes: every deal event HubSpot documents names the deal
// the gateway reads: objectId for creation, propertyChange and restore (in
// the legacy deal.* and the developer platform's object.* form with
// objectTypeId 0-3); the deal's end of an association change, which
// carries fromObjectId/toObjectId instead of objectId; the surviving deal
// of a merge (primaryObjectId, or newObjectId when the merge made one).
// Events of one delivery that name no deal are ignored without costing
// the others.
func TestSubscriptionTypes(t *testing.T) {
	const at = 1741679720512
	cases := []struct {
		name   string
		events string
		want   string // the deal read; "" none
	}{
		{"deal.restore", `{"subscriptionType":"deal.restore","objectId":18230411007,"occurredAt":1741679720512}`, "18230411007"},
		{"object.restore", `{"subscriptionType":"object.restore","objectTypeId":"0-3","objectId":18230411007,"occurredAt":1741679720512}`, "18230411007"},
		{"deal.associationChange", `{"subscriptionType":"deal.associationChange","associationType":"DEAL_TO_COMPANY","fromObjectId":18230411007,"toObjectId":9876543210,"associationRemoved":false,"isPrimaryAssociation":true,"occurredAt":1741679720512}`, "18230411007"},
		{"object.associationChange from a deal", `{"subscriptionType":"object.associationChange","fromObjectTypeId":"0-3","toObjectTypeId":"0-2","fromObjectId":18230411007,"toObjectId":9876543210,"associationRemoved":true,"occurredAt":1741679720512}`, "18230411007"},
		{"object.associationChange to a deal", `{"subscriptionType":"object.associationChange","fromObjectTypeId":"0-2","toObjectTypeId":"0-3","fromObjectId":9876543210,"toObjectId":18230411007,"associationRemoved":false,"occurredAt":1741679720512}`, "18230411007"},
		{"object.associationChange of contacts", `{"subscriptionType":"object.associationChange","fromObjectTypeId":"0-1","toObjectTypeId":"0-2","fromObjectId":5,"toObjectId":6,"occurredAt":1741679720512}`, ""},
		{"deal.merge", `{"subscriptionType":"deal.merge","objectId":18230411007,"primaryObjectId":18230411007,"mergedObjectIds":[18230411999],"newObjectId":0,"numberOfPropertiesMoved":4,"occurredAt":1741679720512}`, "18230411007"},
		{"object.merge into a new deal", `{"subscriptionType":"object.merge","objectTypeId":"0-3","objectId":18230411999,"primaryObjectId":18230411999,"mergedObjectIds":[18230411998],"newObjectId":18230411007,"occurredAt":1741679720512}`, "18230411007"},
		{"deal.privacyDeletion", `{"subscriptionType":"deal.privacyDeletion","objectId":18230411007,"occurredAt":1741679720512}`, ""},
		{"one malformed event among others", `{"subscriptionType":"deal.propertyChange","propertyName":"amount","propertyValue":"1"},{"subscriptionType":"deal.propertyChange","objectId":18230411007,"propertyName":"amount","propertyValue":"1","occurredAt":1741679720512}`, "18230411007"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			crm, client := newCRM(t, map[string][]byte{"18230411007": sourcetest.Local(t, "api.deal.json")})
			r := mapDelivery(t, []byte("["+c.events+"]"), client)
			if c.want == "" {
				if r.Outcome() != "ignored" || len(crm.reqs) != 0 {
					t.Errorf("%+v, requests %v", r, crm.reqs)
				}
				return
			}
			if len(r.Events) == 0 || r.Events[0].Key() != DealID(c.want) || r.Events[0].Time.UnixMilli() != at {
				t.Fatalf("%+v", r)
			}
			if len(crm.reqs) != 1 || !strings.HasPrefix(crm.reqs[0], "/crm/v3/objects/deals/"+c.want+"?") {
				t.Errorf("requests %v", crm.reqs)
			}
		})
	}
}
