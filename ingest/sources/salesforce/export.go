package salesforce

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
	"github.com/secimpact/impact/schemas"
)

// Standard column labels of the Opportunities report.
const (
	colID           = "Opportunity ID"
	colName         = "Opportunity Name"
	colAccountID    = "Account ID"
	colAccountName  = "Account Name"
	colType         = "Type"
	colStage        = "Stage"
	colCurrency     = "Opportunity Currency"
	colAmount       = "Amount"
	colCloseDate    = "Close Date"
	colCreated      = "Created Date"
	colLastModified = "Last Modified Date"
	colClosed       = "Closed"
	colWon          = "Won"
)

// Columns of the Opportunity Field History report.
const (
	colEditDate = "Edit Date"
	colField    = "Field / Event"
	colOld      = "Old Value"
	colNew      = "New Value"
)

// standardStages are the stages of a new Salesforce org, used when
// crm.stages does not list a stage.
var standardStages = map[string]string{
	"prospecting": "open", "qualification": "open", "needs analysis": "open",
	"value proposition": "open", "id. decision makers": "open", "perception analysis": "open",
	"proposal/price quote": "open", "negotiation/review": "open",
	"closed won": "won", "closed lost": "lost",
}

// Import reads Salesforce report exports — Opportunities reports and
// Opportunity Field History reports, told apart by their header — and
// calls emit with one Outcome per record, opportunities first in file
// order. A file that cannot be read as such an export (a wrong header, a
// date or number not in the mapping's formats) is an error naming the
// file, line and column; the errors of every file are returned joined.
func Import(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error {
	im, err := newImporter(m)
	if err != nil {
		return err
	}
	if err := export.ReadFiles(ctx, files, im.read); err != nil {
		return err
	}
	return im.emit(emit)
}

type importer struct {
	m        *mapping.File
	num      export.NumberFormat
	date, dt export.TimeFormat
	cols     mapping.SalesforceColumns
	fields   map[string]string // Field History labels -> the state field they change

	opps    []*opportunity
	byID    map[string]*opportunity
	history []change
	// strs interns the history's repeated strings (an opportunity's id
	// and the field labels repeat on every row): a year of history is
	// hundreds of thousands of rows.
	strs map[string]string
}

func (im *importer) intern(s string) string {
	if v, ok := im.strs[s]; ok {
		return v
	}
	s = strings.Clone(s) // not a slice of the CSV record's line, which it would keep
	im.strs[s] = s
	return s
}

type opportunity struct {
	file       string
	line       int
	id         string
	accountID  string
	account    string // Account Name
	closedFlag string // Closed, Won columns (when the report has them)
	wonFlag    string
	region     string
	industry   string
	product    string
	channel    string
	created    time.Time
	modified   time.Time // zero without a Last Modified Date column
	requested  *time.Time
	completed  *time.Time
	cur        state
	changes    []*change // into importer.history
	duplicate  int       // line of an earlier row with the same id
}

// state is what a deal's tracked fields were at one time.
type state struct {
	stage, typ, currency, segment, lossReason string
	amount                                    float64
	closeDate                                 time.Time
}

type change struct {
	file     string
	line     int
	opp      string
	at       time.Time
	field    string // the state field, or "created", or "review"
	label    string // as exported
	old, new string
}

func newImporter(m *mapping.File) (*importer, error) {
	if m == nil {
		m = &mapping.File{}
	}
	loc := m.SalesforceFormat()
	zone := m.CRM.Salesforce.TimeZone
	date, err := export.NewTimeFormat("", loc.Date) // dates are calendar days: midnight UTC
	if err != nil {
		return nil, fmt.Errorf("mapping crm.salesforce.date_format: %w", err)
	}
	// Reports show minutes; some exports add seconds.
	dt, err := export.NewTimeFormat(zone, loc.DateTime, strings.Replace(loc.DateTime, "mm", "mm:ss", 1))
	if err != nil {
		return nil, fmt.Errorf("mapping crm.salesforce: %w", err)
	}
	c := m.CRM.Salesforce.Columns
	c.Segment = sources.Or(c.Segment, "Segment")
	c.LossReason = sources.Or(c.LossReason, "Loss Reason")
	c.ReviewRequested = sources.Or(c.ReviewRequested, "Security Review Requested")
	c.ReviewCompleted = sources.Or(c.ReviewCompleted, "Security Review Completed")
	c.ReviewChannel = sources.Or(c.ReviewChannel, "Security Review Channel")
	c.Region = sources.Or(c.Region, "Billing Country")
	c.Industry = sources.Or(c.Industry, "Industry")
	c.Product = sources.Or(c.Product, "Product")
	fields := map[string]string{
		"stage": "stage", "amount": "amount", "close date": "closeDate", "type": "typ",
		"opportunity currency": "currency", "created.": "created", "created": "created",
		strings.ToLower(c.LossReason): "lossReason", strings.ToLower(c.Segment): "segment",
	}
	if f := m.CRM.Salesforce.ReviewStatus.Field; f != "" {
		fields[strings.ToLower(f)] = "review"
	}
	return &importer{
		m: m, num: export.NumberFormat{Decimal: loc.Decimal, Group: loc.Group},
		date: date, dt: dt, cols: c, fields: fields, byID: map[string]*opportunity{}, strs: map[string]string{},
	}, nil
}

func (im *importer) oppColumns() []export.Column {
	c := im.cols
	return []export.Column{
		{Name: colID, Required: true},
		{Name: colName},
		{Name: colAccountID, Required: true},
		{Name: colAccountName},
		{Name: colType, Aliases: []string{"Opportunity Type"}},
		{Name: colStage, Aliases: []string{"Stage Name"}, Required: true},
		{Name: colCurrency, Aliases: []string{"Amount Currency", "Currency"}},
		{Name: colAmount, Required: true},
		{Name: colCloseDate, Required: true},
		{Name: colCreated, Required: true},
		{Name: colLastModified},
		{Name: colClosed},
		{Name: colWon},
		{Name: c.Segment, Required: true, Key: "crm.salesforce.columns.segment"},
		{Name: c.LossReason},
		{Name: c.ReviewRequested},
		{Name: c.ReviewCompleted},
		{Name: c.ReviewChannel},
		{Name: c.Region},
		{Name: c.Industry},
		{Name: c.Product},
	}
}

var historyColumns = []export.Column{
	{Name: colID, Required: true},
	{Name: colEditDate, Required: true},
	{Name: colField, Aliases: []string{"Field/Event", "Field"}, Required: true},
	{Name: colOld, Required: true},
	{Name: colNew, Required: true},
}

// read parses one file, an Opportunities report or a Field History report.
func (im *importer) read(file string, data []byte) error {
	// The Field History report is the one with a "Field / Event" column.
	probe, err := export.OpenCSV(file, bytes.NewReader(data), historyColumns)
	if err == nil {
		return probe.Each(func(row export.Row) error { return im.readHistory(file, row) })
	}
	c, err := export.OpenCSV(file, bytes.NewReader(data), im.oppColumns())
	if err != nil {
		return err
	}
	return c.Each(func(row export.Row) error { return im.readOpportunity(file, row) })
}

// readOpportunity reads one row of the Opportunities report.
func (im *importer) readOpportunity(file string, row export.Row) error {
	var err error
	o := &opportunity{file: file, line: row.Line, id: ID18(row.Get(colID))}
	if o.id == "" {
		return row.Errorf(colID, "empty: every row needs the opportunity's id")
	}
	o.accountID = ID18(row.Get(colAccountID))
	o.account = row.Get(colAccountName)
	o.closedFlag, o.wonFlag = row.Get(colClosed), row.Get(colWon)
	o.region, o.industry, o.product = row.Get(im.cols.Region), row.Get(im.cols.Industry), row.Get(im.cols.Product)
	o.channel = row.Get(im.cols.ReviewChannel)
	s := &o.cur
	s.stage, s.typ, s.segment = row.Get(colStage), row.Get(colType), row.Get(im.cols.Segment)
	s.lossReason = row.Get(im.cols.LossReason)
	s.currency = strings.ToUpper(row.Get(colCurrency))
	if v := row.Get(colAmount); v != "" {
		amount, cur, err := im.num.ParseAmount(v)
		if err != nil {
			return row.Wrap(colAmount, err)
		}
		s.amount = amount
		if s.currency == "" {
			s.currency = cur
		}
	}
	if s.closeDate, err = im.day(row, colCloseDate, true); err != nil {
		return err
	}
	if o.created, err = im.day(row, colCreated, true); err != nil {
		return err
	}
	if v := row.Get(colLastModified); v != "" {
		if o.modified, err = im.dt.Parse(v); err != nil {
			return row.Wrap(colLastModified, err)
		}
	}
	for _, d := range []struct {
		col string
		dst **time.Time
	}{{im.cols.ReviewRequested, &o.requested}, {im.cols.ReviewCompleted, &o.completed}} {
		t, err := im.day(row, d.col, false)
		if err != nil {
			return err
		}
		if !t.IsZero() {
			*d.dst = &t
		}
	}
	if prev, dup := im.byID[o.id]; dup {
		o.duplicate = prev.line
	} else {
		im.byID[o.id] = o
	}
	im.opps = append(im.opps, o)
	return nil
}

// day parses a date column; a date-time is accepted too (reports show
// Created Date either way) and cut to its calendar day.
func (im *importer) day(row export.Row, col string, required bool) (time.Time, error) {
	v := row.Get(col)
	if v == "" {
		if required {
			return time.Time{}, row.Errorf(col, "empty")
		}
		return time.Time{}, nil
	}
	if t, err := im.date.Parse(v); err == nil {
		return t, nil
	}
	t, err := im.dt.Parse(v)
	if err != nil {
		return time.Time{}, row.Errorf(col, "date %q is in none of the formats %q, %q (set crm.salesforce.locale, or date_format and datetime_format, to the exporting user's)",
			v, im.date.Layouts[0], im.dt.Layouts[0])
	}
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC), nil
}

// readHistory reads one row of the Field History report.
func (im *importer) readHistory(file string, row export.Row) error {
	var err error
	ch := change{file: file, line: row.Line, opp: im.intern(ID18(row.Get(colID))), label: im.intern(row.Get(colField)),
		old: row.Get(colOld), new: row.Get(colNew)}
	if ch.opp == "" {
		return row.Errorf(colID, "empty: every row needs the opportunity's id")
	}
	if ch.at, err = im.dt.Parse(row.Get(colEditDate)); err != nil {
		return row.Wrap(colEditDate, fmt.Errorf("%w (set crm.salesforce.locale, or datetime_format, to the exporting user's)", err))
	}
	ch.field = im.fields[strings.ToLower(ch.label)]
	// Values are checked now, so a bad one fails the file up front.
	switch ch.field {
	case "", "created": // only the row's outcome is needed: keep no values
		ch.old, ch.new = "", ""
	case "amount":
		for _, v := range []string{ch.old, ch.new} {
			if v != "" {
				if _, _, err := im.num.ParseAmount(v); err != nil {
					return row.Wrap(ch.label, err)
				}
			}
		}
	case "closeDate":
		for _, v := range []string{ch.old, ch.new} {
			if v != "" {
				if _, err := im.date.Parse(v); err != nil {
					return row.Wrap(ch.label, err)
				}
			}
		}
	default: // copies: a slice of the record's line would keep the line
		ch.old, ch.new = strings.Clone(ch.old), strings.Clone(ch.new)
	}
	im.history = append(im.history, ch)
	return nil
}

// emit builds every opportunity's events and reports every record.
func (im *importer) emit(emit func(export.Outcome) error) error {
	rejected := map[string]bool{}
	for i := range im.history {
		ch := &im.history[i]
		if o := im.byID[ch.opp]; o != nil {
			o.changes = append(o.changes, ch)
		}
	}
	for _, o := range im.opps {
		out := export.Outcome{File: o.file, Line: o.line}
		switch {
		case o.duplicate > 0:
			out.Rejected = fmt.Sprintf("opportunity %s is also on line %d: export the report without grouping", o.id, o.duplicate)
		default:
			out.Events, out.Unmapped, out.Rejected = im.events(o)
		}
		if out.Status() == "rejected" {
			rejected[o.id] = true
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	for _, ch := range im.history {
		out := export.Outcome{File: ch.file, Line: ch.line}
		switch {
		case im.byID[ch.opp] == nil:
			out.Ignored = "opportunity not in the Opportunities report (export both reports with the same filters)"
		case rejected[ch.opp]:
			out.Ignored = "its opportunity was rejected"
		case ch.field == "":
			out.Ignored = fmt.Sprintf("field %q is not one the contract uses", ch.label)
		default:
			out.Folded = true
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

// events builds an opportunity's events: its state at creation and after
// every group of changes made at one edit time, rebuilt backwards from the
// report's current state, and its security review.
func (im *importer) events(o *opportunity) ([]sources.Event, []sources.Unmapped, string) {
	sort.SliceStable(o.changes, func(i, j int) bool { return o.changes[i].at.Before(o.changes[j].at) })
	type step struct {
		at    time.Time
		state state
	}
	// Backwards: the state before each group is the group's old values.
	var groups [][]*change
	created := o.created
	var requestedAt, completedAt *time.Time
	for _, ch := range o.changes {
		switch ch.field {
		case "created":
			created = ch.at
			continue
		case "review":
			rs := im.m.CRM.Salesforce.ReviewStatus
			at := ch.at
			if requestedAt == nil && (rs.Requested.Has(ch.new) || rs.Completed.Has(ch.new)) {
				requestedAt = &at
			}
			if completedAt == nil && rs.Completed.Has(ch.new) {
				completedAt = &at
			}
			continue
		case "":
			continue
		}
		if n := len(groups); n > 0 && groups[n-1][0].at.Equal(ch.at) {
			groups[n-1] = append(groups[n-1], ch)
		} else {
			groups = append(groups, []*change{ch})
		}
	}
	steps := make([]step, len(groups)+1)
	s := o.cur
	for g := len(groups) - 1; g >= 0; g-- {
		steps[g+1] = step{at: groups[g][0].at, state: s}
		for k := len(groups[g]) - 1; k >= 0; k-- {
			im.undo(&s, groups[g][k])
		}
	}
	steps[0] = step{at: created, state: s}
	if requestedAt == nil {
		requestedAt = o.requested
	}
	if completedAt == nil {
		completedAt = o.completed
	}
	if completedAt != nil && requestedAt == nil {
		requestedAt = completedAt // completed without a recorded request: a zero-day review
	}
	var unmapped []sources.Unmapped
	reviewID := ""
	if requestedAt != nil {
		reviewID = ReviewID(o.id)
	}
	var events []sources.Event
	snapshot := len(groups) == 0 && !o.modified.IsZero() && o.modified.After(created)
	for i, st := range steps {
		if snapshot {
			// Without history, the report's state is dated by its last
			// modification, the creation only by its date.
			st.at = o.modified
		}
		data, us, reject := im.opportunityData(o, st.state, created, requestedAt, st.at, i == len(steps)-1)
		unmapped = append(unmapped, us...)
		if reject != "" {
			return nil, unmapped, reject
		}
		if data == nil {
			return nil, unmapped, ""
		}
		typ := "crm.opportunity.stage_changed"
		switch {
		case data.Outcome != "open":
			typ = "crm.opportunity.closed"
		case i == 0:
			typ = "crm.opportunity.created"
		}
		events = append(events, sources.Event{
			ID: sources.ChangeID(System, data.OpportunityID, typ, st.at), Source: Source, Type: typ, Time: st.at.UTC(), Data: data,
		})
	}
	if reviewID != "" {
		channel, u := im.m.ReviewChannel(o.channel)
		if u != nil {
			unmapped = append(unmapped, *u)
			channel = "questionnaire"
		}
		accountID := im.m.Account(mapping.Salesforce, o.accountID)
		r := &schemas.SecurityReview{ReviewID: reviewID, AccountID: accountID, OpportunityID: OpportunityID(o.id),
			Channel: channel, Status: "requested", RequestedAt: requestedAt.UTC()}
		events = append(events, sources.Event{ID: sources.ChangeID(System, reviewID, "security.review.requested", *requestedAt),
			Source: Source, Type: "security.review.requested", Time: requestedAt.UTC(), Data: r})
		if completedAt != nil {
			c := *r
			c.Status, c.CompletedAt = "completed", sources.Ptr(completedAt.UTC())
			events = append(events, sources.Event{ID: sources.ChangeID(System, reviewID, "security.review.completed", *completedAt),
				Source: Source, Type: "security.review.completed", Time: completedAt.UTC(), Data: &c})
		}
	}
	return events, unmapped, ""
}

// undo sets s to what it was before ch. Values were checked when read.
func (im *importer) undo(s *state, ch *change) {
	switch ch.field {
	case "stage":
		s.stage = ch.old
	case "typ":
		s.typ = ch.old
	case "currency":
		s.currency = strings.ToUpper(ch.old)
	case "segment":
		s.segment = ch.old
	case "lossReason":
		s.lossReason = ch.old
	case "amount":
		s.amount = 0
		if ch.old != "" {
			v, cur, _ := im.num.ParseAmount(ch.old)
			s.amount = v
			if cur != "" {
				s.currency = cur
			}
		}
	case "closeDate":
		if ch.old != "" {
			s.closeDate, _ = im.date.Parse(ch.old)
		}
	}
}

// opportunityData is the contract state of o at time at. It returns nil
// data and a reason, or unmapped values, when the deal cannot be mapped.
func (im *importer) opportunityData(o *opportunity, s state, created time.Time, requestedAt *time.Time, at time.Time, current bool) (*schemas.Opportunity, []sources.Unmapped, string) {
	m := im.m
	var unmapped []sources.Unmapped
	var required bool // a required field is unmapped
	outcome, ok := m.Stage(s.stage)
	if !ok {
		outcome, ok = standardStages[strings.ToLower(strings.TrimSpace(s.stage))]
	}
	if !ok && current && o.closedFlag != "" {
		outcome, ok = "open", true
		if truthy(o.closedFlag) {
			outcome = "lost"
			if truthy(o.wonFlag) {
				outcome = "won"
			}
		}
	}
	if !ok {
		unmapped = append(unmapped, sources.Unmapped{Key: "crm.stages", Value: s.stage, Allowed: []string{"open", "won", "lost", "no_decision"}})
		required = true
	}
	segment, u := m.Segment(s.segment)
	if u != nil {
		unmapped, required = append(unmapped, *u), true
	}
	dealType, u := m.DealType(s.typ)
	if u != nil {
		unmapped, required = append(unmapped, *u), true
	}
	usd, currency, u := m.ToUSD(s.amount, s.currency)
	if u != nil {
		unmapped, required = append(unmapped, *u), true
	}
	if required {
		return nil, unmapped, ""
	}
	accountName := m.AccountName(mapping.Salesforce, o.accountID)
	if accountName == "" {
		accountName = o.account
	}
	d := &schemas.Opportunity{
		OpportunityID: OpportunityID(o.id), AccountID: m.Account(mapping.Salesforce, o.accountID),
		AccountName: sources.NonEmpty(accountName), Segment: segment,
		Region: sources.NonEmpty(o.region), Industry: sources.NonEmpty(o.industry),
		DealType: dealType, Stage: s.stage, AmountUSD: usd, Currency: sources.Ptr(currency),
		Amount: sources.Ptr(s.amount), Product: sources.NonEmpty(o.product),
		CreatedAt: created.UTC(), Outcome: outcome,
	}
	if outcome != "open" {
		d.ClosedAt = sources.Ptr(s.closeDate.UTC())
	}
	if outcome == "lost" && s.lossReason != "" {
		reason, u := m.LossReason(s.lossReason)
		if u != nil {
			unmapped = append(unmapped, *u) // optional: left out, reported
		} else {
			d.LossReason = &reason
		}
	}
	if requestedAt != nil && !requestedAt.After(at) || requestedAt != nil && current {
		d.SecurityReviewRequired = true
		d.SecurityReviewID = sources.Ptr(ReviewID(o.id))
	}
	return d, unmapped, ""
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "x", "✓", "wahr", "ja", "vrai", "oui":
		return true
	}
	return false
}
