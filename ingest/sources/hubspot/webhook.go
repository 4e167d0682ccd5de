package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

// Delivery is one webhook delivery: a JSON array of up to 100 events.
type Delivery struct {
	Received time.Time
	Body     []byte
}

// Notification is one event of a HubSpot webhook delivery (legacy
// subscriptions: subscriptionType deal.propertyChange; developer platform:
// subscriptionType object.propertyChange with objectTypeId 0-3).
type Notification struct {
	EventID          json.Number  `json:"eventId"`
	SubscriptionType string       `json:"subscriptionType"`
	ObjectTypeID     string       `json:"objectTypeId"`
	ObjectID         json.Number  `json:"objectId"`
	OccurredAt       sources.Time `json:"occurredAt"`
	PropertyName     string       `json:"propertyName"`
	PropertyValue    string       `json:"propertyValue"`
	ChangeSource     string       `json:"changeSource"`

	// Association changes name both ends instead of objectId (the
	// developer platform's object.associationChange with their object
	// types).
	FromObjectID     json.Number `json:"fromObjectId"`
	ToObjectID       json.Number `json:"toObjectId"`
	FromObjectTypeID string      `json:"fromObjectTypeId"`
	ToObjectTypeID   string      `json:"toObjectTypeId"`
	AssociationType  string      `json:"associationType"`
	// Merges name the surviving record: primaryObjectId, or newObjectId
	// when the merge created one.
	PrimaryObjectID json.Number `json:"primaryObjectId"`
	NewObjectID     json.Number `json:"newObjectId"`
}

// FetchDeal reads a deal's current state; see Client.Deal.
type FetchDeal func(ctx context.Context, id string, properties []string) (*Deal, error)

// dealObjectType is HubSpot's object type id of deals.
const dealObjectType = "0-3"

// Map maps one webhook delivery. For each deal it names (creation, property
// change, association change, merge, restore) it fetches the deal's current
// state and maps it with MapDeal, dated by the latest occurredAt of that
// deal's events; a deal created in the delivery gives a created event.
// Deletions, other objects' events and events without a deal id or time
// are ignored, the others of the delivery still mapped. (A merge's losing
// deals stay as they were: the contract has no deletion.)
func Map(ctx context.Context, m *mapping.File, d Delivery, fetch FetchDeal) (sources.Result, error) {
	if m == nil {
		m = &mapping.File{}
	}
	var ns []Notification
	if err := json.Unmarshal(d.Body, &ns); err != nil {
		return sources.Result{}, fmt.Errorf("decode HubSpot webhook (a JSON array of events): %w", err)
	}
	type change struct {
		at      time.Time
		created bool
	}
	deals := map[string]*change{}
	var ignored []string
	for i, n := range ns {
		kind, id, isDeal := dealEvent(&n)
		if !isDeal || kind == "deletion" || kind == "privacyDeletion" {
			ignored = append(ignored, n.SubscriptionType)
			continue
		}
		if id == "" || n.OccurredAt.IsZero() {
			// One malformed event does not cost the delivery's others
			// (up to 100): HubSpot would retry them all.
			ignored = append(ignored, fmt.Sprintf("%s (event %d: no deal id or occurredAt)", n.SubscriptionType, i))
			continue
		}
		c := deals[id]
		if c == nil {
			c = &change{}
			deals[id] = c
		}
		if n.OccurredAt.After(c.at) {
			c.at = n.OccurredAt.Time
		}
		c.created = c.created || kind == "creation"
	}
	if len(deals) == 0 {
		if len(ns) == 0 {
			return sources.Ignore("an empty event list"), nil
		}
		return sources.Ignore("no deal changes (events: %v)", ignored), nil
	}
	if fetch == nil {
		return sources.Result{}, fmt.Errorf("HubSpot webhooks carry only the changed property; the deal's state needs API access (a private app token)")
	}
	ids := make([]string, 0, len(deals))
	for id := range deals {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	props := Properties(m)
	fetched, err := fetchAll(ctx, ids, props, fetch)
	if err != nil {
		return sources.Result{}, err
	}
	var out sources.Result
	for i, id := range ids {
		deal := fetched[i]
		typ := ""
		if deals[id].created {
			typ = "crm.opportunity.created"
		}
		r, err := MapDeal(m, deal, typ, deals[id].at)
		if err != nil {
			return sources.Result{}, err
		}
		out.Add(r)
	}
	return out, nil
}

// FetchConcurrency bounds the API reads of one delivery in flight. HubSpot
// batches up to 100 events in a delivery and times out a receiver that
// takes seconds to answer: 100 reads one after the other would not fit;
// eight at a time stay inside a private app's rate limit (at least 100
// requests per 10 seconds).
const FetchConcurrency = 8

// fetchAll reads the deals ids, FetchConcurrency at a time, in order; the
// first error cancels the rest.
func fetchAll(ctx context.Context, ids []string, props []string, fetch FetchDeal) ([]*Deal, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]*Deal, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, FetchConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := fetch(ctx, id, props)
			if err != nil {
				errs[i] = fmt.Errorf("deal %s: %w", id, err)
				cancel()
				return
			}
			out[i] = d
		}()
	}
	wg.Wait()
	for _, err := range errs { // the first in id order, not a cancellation it caused
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dealEvent says whether n is about a deal, what happened (creation,
// propertyChange, deletion, associationChange, merge, restore) and to which
// deal: objectId; for an association change the deal's end (fromObjectId
// of deal.associationChange; the end whose object type is a deal in the
// generic form); for a merge the surviving deal.
func dealEvent(n *Notification) (kind, id string, ok bool) {
	obj, kind, found := strings.Cut(n.SubscriptionType, ".")
	if !found {
		return "", "", false
	}
	id = nonZero(n.ObjectID)
	switch kind {
	case "associationChange":
		switch {
		case obj == "deal":
			return kind, sources.Or(nonZero(n.FromObjectID), id), true
		case obj == "object" && n.FromObjectTypeID == dealObjectType:
			return kind, nonZero(n.FromObjectID), true
		case obj == "object" && n.ToObjectTypeID == dealObjectType:
			return kind, nonZero(n.ToObjectID), true
		}
		return "", "", false
	case "merge":
		id = sources.Or(nonZero(n.NewObjectID), sources.Or(nonZero(n.PrimaryObjectID), id))
	}
	if obj == "deal" || obj == "object" && n.ObjectTypeID == dealObjectType {
		return kind, id, true
	}
	return "", "", false
}

// nonZero is the id's text, "" for none or 0.
func nonZero(id json.Number) string {
	if s := id.String(); s != "" && s != "0" {
		return s
	}
	return ""
}
