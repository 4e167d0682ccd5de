// Package hubspot maps HubSpot deals onto crm.opportunity.* events (and,
// when the mapping file names the deal properties recording a customer's
// security review, security.review.* events).
//
// HubSpot's deal webhooks carry only the change (objectId, propertyName,
// propertyValue), while the event contract carries the entity's full state
// in every event. So the gateway reads the deal's current state from the
// CRM v3 API (GET /crm/v3/objects/deals/{id}, with its company
// association; see Client) for each deal a delivery names, and maps that,
// dated by the change's occurredAt. The importer maps the same deal objects
// from saved API pages with MapDeal.
package hubspot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// System is the source system name in event ids and the mapping file.
const System = "hubspot"

// Source is the CloudEvents source attribute of HubSpot events. With the
// id it is an event's identity, so the gateway and the importer use it
// alike.
const Source = "hubspot"

// DealID is the contract opportunity_id of a HubSpot deal id.
func DealID(id string) string { return "hubspot:deal/" + id }

// ReviewID is the review_id of the security review recorded on a deal.
func ReviewID(dealID string) string { return "hubspot:deal/" + dealID + "/security-review" }

// Deal is a CRM v3 deal object (GET /crm/v3/objects/deals/{id}, and each
// result of the list and search endpoints). Property values are strings.
type Deal struct {
	ID           string             `json:"id"`
	Properties   map[string]*string `json:"properties"`
	CreatedAt    sources.Time       `json:"createdAt"`
	UpdatedAt    sources.Time       `json:"updatedAt"`
	Archived     bool               `json:"archived"`
	Associations map[string]struct {
		Results []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"results"`
	} `json:"associations"`
}

// Prop returns a property value, "" when absent or null.
func (d *Deal) Prop(name string) string {
	if name == "" {
		return ""
	}
	if v := d.Properties[name]; v != nil {
		return strings.TrimSpace(*v)
	}
	return ""
}

// Company returns the first associated company id, "" for none.
func (d *Deal) Company() string {
	for _, key := range []string{"companies", "company"} {
		if a, ok := d.Associations[key]; ok && len(a.Results) > 0 {
			return a.Results[0].ID
		}
	}
	return ""
}

// Standard HubSpot deal properties the mapper reads.
const (
	propStage     = "dealstage"
	propPipeline  = "pipeline"
	propAmount    = "amount"
	propCloseDate = "closedate"
	propCreate    = "createdate"
	propClosed    = "hs_is_closed"
	propWon       = "hs_is_closed_won"
	propName      = "dealname"
)

// Properties lists the deal properties MapDeal reads under mapping m: the
// properties= parameter of the API requests.
func Properties(m *mapping.File) []string {
	p := &m.CRM.HubSpot.Properties
	out := []string{propStage, propPipeline, propAmount, propCloseDate, propCreate, propClosed, propWon, propName,
		mapping.HubSpotProperty(p.LossReason, "closed_lost_reason"),
		mapping.HubSpotProperty(p.DealType, "dealtype"),
		mapping.HubSpotProperty(p.Currency, "deal_currency_code")}
	for _, name := range []string{p.Segment, p.Region, p.Industry, p.Product, p.ReviewRequested, p.ReviewCompleted, p.ReviewChannel} {
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// parseTime reads HubSpot date and datetime property values: RFC 3339,
// epoch milliseconds, or a date (midnight UTC, as HubSpot stores dates).
func parseTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, true
	}
	t, err := sources.ParseTime(v)
	return t, err == nil
}

// reviewTime reads a security-review property: a date or datetime is when
// it happened; a checkbox set to true says it happened without a date, so
// the deal's own date for it (fallback) stands in.
func reviewTime(v string, fallback time.Time) (time.Time, bool) {
	switch strings.ToLower(v) {
	case "", "false", "no":
		return time.Time{}, false
	case "true", "yes":
		return fallback, true
	}
	return parseTime(v)
}

// MapDeal maps a deal's current state after a change of contract type typ
// ("" derives it: closed deals closed, others stage_changed) at time at:
//
//   - outcome: crm.stages for the deal's stage when listed, else HubSpot's
//     own hs_is_closed_won (won) and hs_is_closed (lost) flags, else open;
//   - segment and deal type through crm.segments and crm.deal_types; a
//     value they do not cover withholds the event (the fields are required)
//     and is reported as unmapped;
//   - loss reason (lost deals) through crm.loss_reasons; an uncovered value
//     is reported and the event goes without it;
//   - amount in USD: converted with crm.currency (an unset currency is
//     crm.currency.default, USD unless set); a currency without a rate is
//     reported as unmapped (crm.currency.rates) and withholds the event; a
//     deal without amount has amount_usd 0;
//   - the account is the first associated company (accounts[].hubspot);
//     a deal without company is ignored;
//   - security review: when the requested property is set the deal requires
//     a review, and a security.review event (requested, or completed when
//     the completed property is set) is added.
func MapDeal(m *mapping.File, d *Deal, typ string, at time.Time) (sources.Result, error) {
	if m == nil {
		m = &mapping.File{}
	}
	if d.ID == "" {
		return sources.Result{}, fmt.Errorf("deal without id")
	}
	if d.Archived {
		return sources.Ignore("deal %s is archived (deleted)", d.ID), nil
	}
	hp := &m.CRM.HubSpot
	if pl := d.Prop(propPipeline); len(hp.Pipelines) > 0 && !hp.Pipelines.Has(pl) {
		return sources.Ignore("deal %s is in pipeline %q, not one of crm.hubspot.pipelines", d.ID, pl), nil
	}
	company := d.Company()
	if company == "" {
		return sources.Ignore("deal %s has no associated company, so no customer account", d.ID), nil
	}
	created, ok := parseTime(d.Prop(propCreate))
	if !ok {
		created = d.CreatedAt.Time
	}
	if created.IsZero() {
		return sources.Result{}, fmt.Errorf("deal %s: no createdate", d.ID)
	}
	props := &hp.Properties
	var res sources.Result
	need := func(v string, u *sources.Unmapped) string {
		if u != nil {
			res.Unmapped = append(res.Unmapped, *u)
		}
		return v
	}
	segment := need(m.Segment(d.Prop(props.Segment)))
	dealType := need(m.DealType(d.Prop(mapping.HubSpotProperty(props.DealType, "dealtype"))))

	stage := d.Prop(propStage)
	outcome, ok := m.Stage(stage)
	if !ok {
		switch {
		case d.Prop(propWon) == "true":
			outcome = "won"
		case d.Prop(propClosed) == "true":
			outcome = "lost"
		default:
			outcome = "open"
		}
	}
	o := &schemas.Opportunity{
		OpportunityID:          DealID(d.ID),
		AccountID:              m.Account(mapping.HubSpotS, company),
		AccountName:            sources.NonEmpty(m.AccountName(mapping.HubSpotS, company)),
		Segment:                segment,
		Region:                 sources.NonEmpty(d.Prop(props.Region)),
		Industry:               sources.NonEmpty(d.Prop(props.Industry)),
		DealType:               dealType,
		Stage:                  sources.Or(stage, "unknown"),
		Product:                sources.NonEmpty(d.Prop(props.Product)),
		CreatedAt:              created.UTC(),
		Outcome:                outcome,
		SecurityReviewRequired: false,
	}
	if a := d.Prop(propAmount); a != "" {
		amount, err := strconv.ParseFloat(a, 64)
		if err != nil || amount < 0 {
			return sources.Result{}, fmt.Errorf("deal %s: amount %q is not a non-negative number", d.ID, a)
		}
		o.Amount = &amount
	}
	cur := strings.ToUpper(d.Prop(mapping.HubSpotProperty(props.Currency, "deal_currency_code")))
	if o.Amount != nil {
		usd, code, u := m.ToUSD(*o.Amount, cur)
		if u != nil {
			res.Unmapped = append(res.Unmapped, *u)
		}
		o.AmountUSD, o.Currency = usd, sources.NonEmpty(code)
	} else {
		o.Currency = sources.NonEmpty(cur)
	}
	if outcome != "open" {
		closed, ok := parseTime(d.Prop(propCloseDate))
		if !ok {
			closed = at
		}
		o.ClosedAt = sources.Ptr(closed.UTC())
		if outcome == "lost" {
			if r := d.Prop(mapping.HubSpotProperty(props.LossReason, "closed_lost_reason")); r != "" {
				if reason, u := m.LossReason(r); u != nil {
					res.Unmapped = append(res.Unmapped, *u) // optional: the event goes without it
				} else {
					o.LossReason = &reason
				}
			}
		}
	}
	for _, u := range res.Unmapped {
		if u.Key != "crm.loss_reasons" { // a required field is missing: withhold the events
			return res, nil
		}
	}
	if typ == "" {
		typ = "crm.opportunity.stage_changed"
	}
	if outcome != "open" && typ != "crm.opportunity.created" {
		typ = "crm.opportunity.closed"
	}
	review, u, ok := reviewEvent(m, d, o, at)
	if u != nil { // the review's channel is required
		res.Unmapped = append(res.Unmapped, *u)
		return res, nil
	}
	if ok {
		o.SecurityReviewRequired = true
		o.SecurityReviewID = sources.Ptr(review.Data.EntityID())
		res.Events = append(res.Events, review)
	}
	res.Events = append([]sources.Event{{
		ID:     sources.ChangeID(System, o.OpportunityID, typ, at),
		Source: Source,
		Type:   typ,
		Time:   at.UTC(),
		Data:   o,
	}}, res.Events...)
	return res, nil
}

// reviewEvent builds the security review the deal's properties record.
func reviewEvent(m *mapping.File, d *Deal, o *schemas.Opportunity, at time.Time) (sources.Event, *sources.Unmapped, bool) {
	props := &m.CRM.HubSpot.Properties
	requested, ok := reviewTime(d.Prop(props.ReviewRequested), at)
	if props.ReviewRequested == "" || !ok {
		return sources.Event{}, nil, false
	}
	channel, u := m.ReviewChannel(d.Prop(props.ReviewChannel))
	if u != nil {
		return sources.Event{}, u, false
	}
	r := &schemas.SecurityReview{
		ReviewID:      ReviewID(d.ID),
		AccountID:     o.AccountID,
		OpportunityID: o.OpportunityID,
		Channel:       channel,
		Status:        "requested",
		RequestedAt:   requested.UTC(),
	}
	typ, when := "security.review.requested", requested
	if completed, ok := reviewTime(d.Prop(props.ReviewCompleted), at); props.ReviewCompleted != "" && ok {
		if completed.Before(requested) {
			completed = requested
		}
		r.Status, r.CompletedAt = "completed", sources.Ptr(completed.UTC())
		typ, when = "security.review.completed", completed
	}
	return sources.Event{
		ID:     sources.ChangeID(System, r.ReviewID, typ, when),
		Source: Source,
		Type:   typ,
		Time:   when.UTC(),
		Data:   r,
	}, nil, true
}
