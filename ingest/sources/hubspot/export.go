package hubspot

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

// Import reads HubSpot deal exports — saved pages of the CRM v3 deals API
// (GET /crm/v3/objects/deals with properties, propertiesWithHistory and
// associations=companies: {"results": [...], "paging": ...}) and deals
// CSV exports (the deals index's Export, or the exports API) — and calls
// emit with one Outcome per deal.
//
// A deal saved with propertiesWithHistory becomes an event at each dated
// change (stage, amount, close date, ...), the deal's state as it was then
// mapped with MapDeal, the gateway's mapping; its first state is the
// creation. A deal without history, and every CSV row, is one event: its
// current state, dated by its last modification. A CSV whose header lacks
// the columns, or a date not in the formats HubSpot exports, is an error
// naming the file, line and column.
func Import(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error {
	if m == nil {
		m = &mapping.File{}
	}
	// Deals need nothing from other files: each outcome is emitted as it
	// is read, so a run holds one file, not every deal's events.
	return export.Stream(ctx, files, func(name string, data []byte, emit func(export.Outcome) error) error {
		if strings.HasSuffix(strings.ToLower(name), ".csv") {
			return importCSV(name, data, m, emit)
		}
		return importPage(name, data, m, emit)
	}, emit)
}

// historyEntry is one value of a property's history.
type historyEntry struct {
	Value     *string      `json:"value"`
	Timestamp sources.Time `json:"timestamp"`
}

type savedDeal struct {
	Deal
	PropertiesWithHistory map[string][]historyEntry `json:"propertiesWithHistory"`
}

func importPage(file string, data []byte, m *mapping.File, emit func(export.Outcome) error) error {
	_, err := export.Page(file, data, "results", func(r export.Record) error {
		var d savedDeal
		if err := r.Unmarshal(file, &d, "a HubSpot deal"); err != nil {
			return err
		}
		if d.ID == "" || d.Properties == nil {
			return export.Errorf(file, r.Line, r.Path, "a deal needs id and properties (save the API's answer with properties=...)")
		}
		res, err := dealHistory(m, &d)
		if err != nil {
			return export.At(file, r.Line, r.Path, err)
		}
		return emit(export.Outcome{File: file, Line: r.Line, Events: res.Events, Unmapped: res.Unmapped, Ignored: res.Ignored})
	})
	return err
}

// dealHistory maps a deal at each change its property histories date.
func dealHistory(m *mapping.File, d *savedDeal) (sources.Result, error) {
	created, ok := parseTime(d.Prop(propCreate))
	if !ok {
		created = d.CreatedAt.Time
	}
	var times []time.Time
	for _, h := range d.PropertiesWithHistory {
		for _, e := range h {
			if !e.Timestamp.IsZero() {
				times = append(times, e.Timestamp.Time)
			}
		}
	}
	if len(times) == 0 {
		// No history: the current state at its last modification.
		at := d.UpdatedAt.Time
		if t, ok := parseTime(d.Prop("hs_lastmodifieddate")); ok {
			at = t
		}
		if at.IsZero() {
			at = created
		}
		typ := ""
		if at.Equal(created) {
			typ = "crm.opportunity.created"
		}
		return MapDeal(m, &d.Deal, typ, at)
	}
	if !created.IsZero() {
		times = append(times, created)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var res sources.Result
	seen := map[string]bool{}
	for i, at := range times {
		if i > 0 && at.Equal(times[i-1]) {
			continue
		}
		state := d.at(at)
		typ := ""
		if i == 0 {
			typ = "crm.opportunity.created"
		}
		r, err := MapDeal(m, state, typ, at)
		if err != nil {
			return sources.Result{}, err
		}
		if len(r.Events) == 0 {
			return r, nil // ignored or unmapped: the same for every state
		}
		for _, e := range r.Events {
			if !seen[e.ID] {
				seen[e.ID] = true
				res.Events = append(res.Events, e)
			}
		}
		res.Unmapped = append(res.Unmapped, r.Unmapped...)
	}
	return res, nil
}

// at is the deal as it was at t: each property with history at its value
// then; the closed and won flags, which HubSpot computes, follow the stage
// (the current flags for the current stage, HubSpot's closedwon and
// closedlost, else open).
func (d *savedDeal) at(t time.Time) *Deal {
	out := d.Deal
	out.Properties = make(map[string]*string, len(d.Properties))
	for k, v := range d.Properties {
		out.Properties[k] = v
	}
	for name, h := range d.PropertiesWithHistory {
		var best *historyEntry
		for i := range h {
			e := &h[i]
			if !e.Timestamp.After(t) && (best == nil || e.Timestamp.After(best.Timestamp.Time)) {
				best = e
			}
		}
		if best == nil {
			out.Properties[name] = nil // not set yet
			continue
		}
		out.Properties[name] = best.Value
	}
	if stage := out.Prop(propStage); stage != d.Prop(propStage) {
		setFlags(&out, stage)
	}
	return &out
}

// setFlags sets the closed and won flags HubSpot computes for a stage of
// the default pipeline (closedwon, closedlost; every other stage is open).
func setFlags(d *Deal, stage string) {
	closed, won := "false", "false"
	switch stage {
	case "closedwon":
		closed, won = "true", "true"
	case "closedlost":
		closed = "true"
	}
	d.Properties[propClosed], d.Properties[propWon] = &closed, &won
}

// csvLabels are the column labels of HubSpot's standard deal properties in
// a CSV export; custom properties match their internal name or its label
// form (customer_segment: "Customer Segment").
var csvLabels = map[string][]string{
	"hs_object_id":        {"Record ID", "Deal ID"},
	propName:              {"Deal Name"},
	propStage:             {"Deal Stage"},
	propPipeline:          {"Pipeline"},
	propAmount:            {"Amount"},
	propCloseDate:         {"Close Date"},
	propCreate:            {"Create Date"},
	"hs_lastmodifieddate": {"Last Modified Date"},
	propClosed:            {"Is Deal Closed?", "Is Closed"},
	propWon:               {"Is Closed Won"},
	"dealtype":            {"Deal Type"},
	"closed_lost_reason":  {"Closed Lost Reason"},
	"deal_currency_code":  {"Currency"},
}

// standardStageLabels are the labels of the default pipeline's stages.
var standardStageLabels = map[string]string{
	"appointment scheduled": "appointmentscheduled", "qualified to buy": "qualifiedtobuy",
	"presentation scheduled": "presentationscheduled", "decision maker bought-in": "decisionmakerboughtin",
	"contract sent": "contractsent", "closed won": "closedwon", "closed lost": "closedlost",
}

var dealTypeLabels = map[string]string{"new business": "newbusiness", "existing business": "existingbusiness"}

func importCSV(file string, data []byte, m *mapping.File, emit func(export.Outcome) error) error {
	props := Properties(m)
	cols := []export.Column{{Name: "company", Aliases: []string{"Associated Company IDs", "Associated Company ID", "Associated Company IDs (Primary)", "Company ID"}, Required: true}}
	for _, p := range append(props, "hs_object_id", "hs_lastmodifieddate") {
		req := p == "hs_object_id" || p == propStage || p == propCreate
		cols = append(cols, export.Column{Name: p, Aliases: csvLabels[p], Required: req})
	}
	c, err := export.OpenCSV(file, bytes.NewReader(data), cols)
	if err != nil {
		return err
	}
	loc := time.UTC
	if z := m.CRM.HubSpot.TimeZone; z != "" {
		if loc, err = time.LoadLocation(z); err != nil {
			return fmt.Errorf("mapping crm.hubspot.time_zone: %w", err)
		}
	}
	flags := c.Has(propClosed) && c.Has(propWon)
	return c.Each(func(row export.Row) error {
		d := Deal{ID: row.Get("hs_object_id"), Properties: map[string]*string{}}
		if d.ID == "" {
			return row.Errorf("hs_object_id", "empty")
		}
		for _, p := range append(props, "hs_lastmodifieddate") {
			v := row.Get(p)
			if v == "" {
				continue
			}
			switch p {
			case propCloseDate, propCreate, "hs_lastmodifieddate", m.CRM.HubSpot.Properties.ReviewRequested, m.CRM.HubSpot.Properties.ReviewCompleted:
				t, err := csvTime(v, loc)
				if err != nil {
					if p != propCloseDate && p != propCreate && p != "hs_lastmodifieddate" && reviewFlag(v) {
						break // a checkbox property
					}
					return row.Wrap(p, err)
				}
				v = t.UTC().Format(time.RFC3339)
			case "dealtype":
				if id, ok := dealTypeLabels[strings.ToLower(v)]; ok {
					v = id
				}
			}
			d.Properties[p] = sources.Ptr(v)
		}
		if company := strings.TrimSpace(strings.Split(strings.ReplaceAll(row.Get("company"), ";", ","), ",")[0]); company != "" {
			d.Associations = map[string]struct {
				Results []struct {
					ID   string `json:"id"`
					Type string `json:"type"`
				} `json:"results"`
			}{"companies": {Results: []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}{{ID: company, Type: "deal_to_company"}}}}
		}
		out := export.Outcome{File: file, Line: row.Line}
		// The export shows stage labels: the closed and won flags come from
		// their columns, else from the default pipeline's labels; a label
		// that is neither needs crm.stages.
		stage := d.Prop(propStage)
		if _, listed := m.Stage(stage); !listed && !flags {
			id, standard := standardStageLabels[strings.ToLower(stage)]
			if !standard {
				out.Unmapped = []sources.Unmapped{{Key: "crm.stages", Value: stage, Allowed: []string{"open", "won", "lost", "no_decision"}}}
				return emit(out)
			}
			setFlags(&d, id)
		}
		at, ok := parseTime(d.Prop("hs_lastmodifieddate"))
		if !ok {
			at, _ = parseTime(d.Prop(propCreate))
			if d.Prop(propClosed) == "true" {
				if at, ok = parseTime(d.Prop(propCloseDate)); !ok {
					out.Rejected = "a closed deal without Close Date or Last Modified Date: its close cannot be dated (add Last Modified Date to the export)"
					return emit(out)
				}
			}
		}
		typ := ""
		if created, _ := parseTime(d.Prop(propCreate)); at.Equal(created) {
			typ = "crm.opportunity.created"
		}
		res, err := MapDeal(m, &d, typ, at)
		if err != nil {
			return row.Wrap("", err)
		}
		out.Events, out.Unmapped, out.Ignored = res.Events, res.Unmapped, res.Ignored
		return emit(out)
	})
}

// csvTime reads a date or date-time of a HubSpot CSV export, in the
// portal's time zone unless it carries an offset.
func csvTime(v string, loc *time.Location) (time.Time, error) {
	for _, l := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			if l == "2006-01-02" {
				return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil // a calendar day
			}
			return t, nil
		}
	}
	if t, err := sources.ParseTime(v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD, YYYY-MM-DD HH:mm (in crm.hubspot.time_zone) or RFC 3339", v)
}

func reviewFlag(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no":
		return true
	}
	return false
}
