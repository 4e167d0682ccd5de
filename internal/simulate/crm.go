package simulate

import (
	"fmt"
	"math"
)

// Opportunity is an opportunity's state.
type Opportunity struct {
	ID, AccountID, AccountName, Segment, Region, Industry string
	DealType, Stage                                       string
	AmountUSD                                             float64
	Product                                               string
	Created, Closed                                       int64
	Outcome, LossReason                                   string
	ReviewRequired                                        bool
	ReviewID                                              string
}

func (op *Opportunity) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("opportunity_id", op.ID)
	o.str("account_id", op.AccountID)
	o.optStr("account_name", op.AccountName)
	o.str("segment", op.Segment)
	o.optStr("region", op.Region)
	o.optStr("industry", op.Industry)
	o.str("deal_type", op.DealType)
	o.str("stage", op.Stage)
	o.float("amount_usd", op.AmountUSD)
	o.str("currency", "USD")
	o.float("amount", op.AmountUSD)
	o.optStr("product", op.Product)
	o.time("created_at", op.Created)
	o.optTime("closed_at", op.Closed)
	o.str("outcome", op.Outcome)
	o.optStr("loss_reason", op.LossReason)
	o.bool("security_review_required", op.ReviewRequired)
	o.optStr("security_review_id", op.ReviewID)
	return o.close()
}

// Review is a customer security review's state.
type Review struct {
	ID, AccountID, OpportunityID, Channel, Questionnaire string
	Questions, AutoAnswered                              int64
	EffortHours                                          float64 // < 0 absent
	Status                                               string
	Requested, Completed                                 int64
}

func (rv *Review) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("review_id", rv.ID)
	o.str("account_id", rv.AccountID)
	o.str("opportunity_id", rv.OpportunityID)
	o.str("channel", rv.Channel)
	o.optStr("questionnaire", rv.Questionnaire)
	if rv.Questions > 0 {
		o.int("question_count", rv.Questions)
		o.int("auto_answered", rv.AutoAnswered)
	}
	if rv.EffortHours >= 0 {
		o.float("effort_hours", rv.EffortHours)
	}
	o.str("status", rv.Status)
	o.time("requested_at", rv.Requested)
	o.optTime("completed_at", rv.Completed)
	return o.close()
}

// segment parameters: deal mix, amount median, sales cycle median days,
// review turnaround median days.
var segSpec = map[string]struct{ mix, amount, cycle, review float64 }{
	"smb":        {0.50, 15000, 25, 3},
	"mid_market": {0.32, 60000, 50, 8},
	"enterprise": {0.18, 250000, 90, 16},
}

func (g *gen) dealsDay(day int64) {
	r := g.rCRM
	n := poisson(r, 25*g.scale)
	for i := 0; i < n; i++ {
		g.deal(day + r.Int64N(daySec))
	}
}

// bucketOf is deal_facts.review_bucket for a closed deal.
func bucketOf(required bool, requested, completed, closed int64) string {
	switch {
	case !required:
		return BucketNone
	case completed == 0 || completed > closed:
		return BucketIncomplete
	}
	d := float64(completed-requested) / daySec
	switch {
	case d <= 5:
		return BucketFast
	case d <= 15:
		return BucketMedium
	}
	return BucketSlow
}

// landmarkOf is deal_facts.landmark_bucket for a closed deal: what was
// known 15 days after the review request (requested 0: no review record).
func landmarkOf(required bool, requested, completed, closed int64) string {
	switch {
	case !required:
		return BucketNone
	case requested == 0:
		return BucketIncomplete
	}
	if completed != 0 && completed <= closed {
		switch d := completed - requested; {
		case d <= 5*daySec:
			return BucketFast
		case d <= 15*daySec:
			return BucketMedium
		}
	}
	if closed > requested+15*daySec {
		return BucketSlow // still pending at the landmark, the deal open
	}
	return BucketIncomplete
}

func (g *gen) winProb(seg, bucket string) float64 {
	p := g.p
	w := map[string]float64{"smb": p.WinRateSMB, "mid_market": p.WinRateMidMarket, "enterprise": p.WinRateEnterprise}[seg]
	switch bucket {
	case BucketMedium:
		w -= p.MediumReviewPenalty
	case BucketSlow:
		w -= p.SlowReviewPenalty
	case BucketIncomplete:
		w -= p.IncompleteReviewPenalty
	}
	return math.Max(0, math.Min(1, w))
}

func (g *gen) deal(t0 int64) {
	r := g.rCRM
	p := g.p
	seg := pick(r, Segments, []float64{segSpec["smb"].mix, segSpec["mid_market"].mix, segSpec["enterprise"].mix})
	spec := segSpec[seg]
	a := g.org.accounts[g.org.dealAccount(r, seg)]
	g.nOpp++
	op := &Opportunity{
		ID: fmt.Sprintf("OPP-%07d", g.nOpp), AccountID: a.ID, AccountName: a.Name, Segment: seg,
		Region: a.Region, Industry: a.Industry,
		DealType:  pick(r, []string{"new", "expansion", "renewal"}, []float64{0.6, 0.25, 0.15}),
		Stage:     "qualification",
		AmountUSD: 100 * math.Round(lognormal(r, spec.amount, 0.7)/100),
		Product:   pick(r, products, nil),
		Created:   t0, Outcome: "open",
	}
	share := map[string]float64{"smb": p.ReviewShareSMB, "mid_market": p.ReviewShareMidMarket, "enterprise": p.ReviewShareEnterprise}[seg]
	op.ReviewRequired = r.Float64() < share
	cycle := days(lognormal(r, spec.cycle, 0.5))

	// Plan the review and the close before emitting anything.
	var rv *Review
	var reviewDone, closeAt int64
	closeAt = t0 + cycle
	if op.ReviewRequired {
		g.nReview++
		req := t0 + int64((0.15+0.3*r.Float64())*float64(cycle))
		rv = &Review{
			ID: fmt.Sprintf("REV-%07d", g.nReview), AccountID: a.ID, OpportunityID: op.ID,
			Channel:     pick(r, []string{"trust_center", "questionnaire", "call", "redline"}, []float64{0.3, 0.45, 0.15, 0.1}),
			EffortHours: -1, Status: "requested", Requested: req,
		}
		if rv.Channel == "questionnaire" {
			rv.Questionnaire = pick(r, []string{"SIG Lite", "CAIQ", "custom"}, nil)
			rv.Questions = int64(50 + r.IntN(300))
			rv.AutoAnswered = int64(float64(rv.Questions) * r.Float64() * 0.8)
		}
		if r.Float64() >= 0.08 { // 8% stall and never complete
			reviewDone = req + max(days(lognormal(r, spec.review*a.reviewFactor, 1.0)), 3*3600)
			if c := reviewDone + days(1+9*r.Float64()); c > closeAt {
				closeAt = c
			}
		}
	}
	// The planted effect follows the landmark bucket, the one the win-rate
	// figures compare; the account's own factor comes on top.
	bucket := BucketNone
	if rv != nil {
		bucket = landmarkOf(true, rv.Requested, reviewDone, closeAt)
	}
	outcome := "lost"
	switch u := g.lowDisc("win/" + seg + "/" + bucket).next(); {
	case u < g.winProb(seg, bucket)*(1+a.winEffect):
		outcome = "won"
	case r.Float64() < 0.2:
		outcome = "no_decision"
	}
	lossReason := ""
	if outcome == "lost" {
		sec := 0.05
		if bucket == BucketSlow || bucket == BucketIncomplete {
			sec = 0.25
		}
		if r.Float64() < sec {
			lossReason = "security"
		} else {
			lossReason = pick(r, []string{"price", "product", "competitor", "timing", "other"}, []float64{0.3, 0.2, 0.3, 0.15, 0.05})
		}
	}

	lo := life{end: g.end}
	emitOpp := func(typ string, t int64) bool {
		t, ok := lo.at(t)
		if !ok {
			return false
		}
		g.scratch = op.data(g.scratch[:0])
		g.event(&lo, typ, "impact-sim/crm", op.ID, t, g.scratch)
		return true
	}
	lr := life{end: g.end}
	emitRev := func(typ string, t int64) bool {
		t, ok := lr.at(t)
		if !ok {
			return false
		}
		g.scratch = rv.data(g.scratch[:0])
		g.event(&lr, typ, "impact-sim/trust-center", rv.ID, t, g.scratch)
		return true
	}
	defer func() {
		g.tb.opportunity(op)
		if rv != nil && lr.n > 0 {
			g.tb.review(rv)
		}
	}()
	if !emitOpp("crm.opportunity.created", t0) {
		return
	}
	op.Stage = "discovery"
	if !emitOpp("crm.opportunity.stage_changed", t0+cycle/5) {
		op.Stage = "qualification"
		return
	}
	if rv != nil {
		if !emitRev("security.review.requested", rv.Requested) {
			return
		}
		op.Stage, op.ReviewID = "proposal", rv.ID
		if !emitOpp("crm.opportunity.stage_changed", rv.Requested+60) {
			op.Stage, op.ReviewID = "discovery", ""
			return
		}
		rv.Status = "in_progress"
		upd := rv.Requested + hours(4+44*r.Float64())
		if reviewDone != 0 && upd >= reviewDone {
			upd = rv.Requested + (reviewDone-rv.Requested)/2
		}
		if !emitRev("security.review.updated", upd) {
			rv.Status = "requested"
		}
		if reviewDone != 0 && reviewDone > lr.last {
			rv.Status, rv.Completed = "completed", reviewDone
			rv.EffortHours = math.Round(lognormal(r, 6, 0.8)*10) / 10
			if !emitRev("security.review.completed", reviewDone) {
				rv.Status, rv.Completed, rv.EffortHours = "in_progress", 0, -1
			}
		}
	}
	prev := op.Stage
	op.Stage = "negotiation"
	if !emitOpp("crm.opportunity.stage_changed", max(t0+cycle*4/5, lo.last+3600)) {
		op.Stage = prev
		return
	}
	if closeAt <= lo.last {
		closeAt = lo.last + 3600
	}
	op.Outcome, op.LossReason = outcome, lossReason
	op.Stage = map[string]string{"won": "closed_won", "lost": "closed_lost", "no_decision": "closed_no_decision"}[outcome]
	op.Closed, _ = lo.peek(closeAt)
	if !emitOpp("crm.opportunity.closed", closeAt) {
		op.Outcome, op.LossReason, op.Stage, op.Closed = "open", "", "negotiation", 0
	}
}
