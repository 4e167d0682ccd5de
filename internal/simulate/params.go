package simulate

import (
	"fmt"
	"math"
	"time"
)

// DefaultEnd is the end of the simulated window when Options.End is zero: a
// fixed instant, so that a seed alone reproduces a run byte for byte.
var DefaultEnd = time.Date(2026, time.July, 1, 0, 0, 0, 0, time.UTC)

// Options select what to simulate. The zero value simulates 365 days ending
// at DefaultEnd with seed 0 at scale 1 (about 216k lines).
type Options struct {
	Seed uint64
	Days int       // default 365
	End  time.Time // default DefaultEnd; truncated to the second, UTC
	// Scale multiplies every volume (entities per day, accounts); default 1.
	// About 47 gives 10 million lines over 365 days.
	Scale float64
	// Params are the planted effects and delivery mess.
	Params Params
}

// Params are the planted effects, confounders and delivery mess. The zero
// value means the documented defaults. For the rates and effects below a
// negative value means "zero" (no effect, no mess), since 0 means default.
type Params struct {
	// WinRate{SMB,MidMarket,Enterprise} are the win probabilities of a
	// closed deal with no review or a fast review, per segment (defaults
	// 0.50, 0.40, 0.25: enterprise has the lower base rate, the confounder).
	WinRateSMB        float64 `json:"win_rate_smb"`
	WinRateMidMarket  float64 `json:"win_rate_mid_market"`
	WinRateEnterprise float64 `json:"win_rate_enterprise"`
	// MediumReviewPenalty, SlowReviewPenalty and IncompleteReviewPenalty are
	// subtracted from the segment's win probability when the deal's review
	// bucket at the landmark (deal_facts.landmark_bucket: what was known 15
	// days after the review request) is medium, slow or incomplete
	// (defaults 0.07, 0.15, 0.20). The planted fast-minus-slow difference
	// within every segment is SlowReviewPenalty.
	MediumReviewPenalty     float64 `json:"medium_review_penalty"`
	SlowReviewPenalty       float64 `json:"slow_review_penalty"`
	IncompleteReviewPenalty float64 `json:"incomplete_review_penalty"`
	// ReviewShare{SMB,MidMarket,Enterprise}: share of deals that require a
	// customer security review (defaults 0.20, 0.50, 0.85). Enterprise
	// reviews also take longer (median turnaround 3, 8 and 16 days), which
	// with the lower enterprise win rate makes the pooled fast-vs-slow
	// difference larger than the stratified one.
	ReviewShareSMB        float64 `json:"review_share_smb"`
	ReviewShareMidMarket  float64 `json:"review_share_mid_market"`
	ReviewShareEnterprise float64 `json:"review_share_enterprise"`
	// AccountWinEffect is the half-width of each account's planted win-rate
	// factor: every win probability of the account's deals is multiplied by
	// 1+u, u uniform in [-AccountWinEffect, +AccountWinEffect] (default 0.8;
	// keep (1+AccountWinEffect) x the largest win rate below 1). Deals of one
	// account go together, which is what cluster-robust intervals allow for.
	// u averages out over accounts, so the planted fast-minus-slow
	// difference within a segment is still SlowReviewPenalty.
	AccountWinEffect float64 `json:"account_win_effect"`
	// AccountDealSkew is the standard deviation of the log of each
	// account's relative number of opportunities (default 1.5; a negative
	// value makes every account of a segment equally likely).
	AccountDealSkew float64 `json:"account_deal_skew"`
	// AccountReviewSpread is the standard deviation of the log of each
	// account's review-time factor (default 0.8): some customers send
	// heavy questionnaires every time, so an account's reviews tend to be
	// all fast or all slow, and its deals cluster on one side of the
	// comparison. Independent of AccountWinEffect: no confounding.
	AccountReviewSpread float64 `json:"account_review_spread"`
	// ServiceLeadSpread is the standard deviation of the log of each
	// service's planted coding-time factor (default 0.3): deployments of
	// one service go together.
	ServiceLeadSpread float64 `json:"service_lead_spread"`

	// GateDelayHours is the mean extra wait of a deployment whose blocking
	// security gate failed, before the re-run or waiver lets it through
	// (default 18; the wait is uniform in [0.67, 1.33] x GateDelayHours).
	GateDelayHours float64 `json:"gate_delay_hours"`
	// GateFailRate is the share of gate runs that fail (default 0.09).
	GateFailRate float64 `json:"gate_fail_rate"`
	// ChangeFailRate is the chance that a successful production change
	// (any trigger but rollback) is followed, 1 to 12 hours after it
	// finished, by a rollback or a hotfix of the same service (half each);
	// ChangeFailRateWaived the same for a change whose blocking security
	// gate was waived (defaults 0.05 and 0.30). Ordinary hotfixes and
	// rollbacks happen besides, at random, and also count as failure
	// signals of the change before them.
	ChangeFailRate       float64 `json:"change_fail_rate"`
	ChangeFailRateWaived float64 `json:"change_fail_rate_waived"`

	// CSATDrop is the expected drop of the CSAT score (1-5) of tickets
	// created within 30 days after an incident affecting the account
	// (default 0.6): each such rating is lowered by one point with
	// probability CSATDrop / P(score > 1).
	CSATDrop float64 `json:"csat_drop"`
	// SecurityTicketShare / SecurityTicketShareAfterIncident: share of
	// tickets that are security related, normally and within 30 days after
	// an incident affecting the account (defaults 0.03, 0.25).
	SecurityTicketShare              float64 `json:"security_ticket_share"`
	SecurityTicketShareAfterIncident float64 `json:"security_ticket_share_after_incident"`

	// LateShare is the share of events delivered late, by an exponential
	// delay with mean LateMeanHours capped at 7 days (defaults 0.02, 12).
	// Every other event arrives 0-120 s after its time, so events close in
	// time also arrive out of order.
	LateShare     float64 `json:"late_share"`
	LateMeanHours float64 `json:"late_mean_hours"`
	// DuplicateShare is the share of valid events delivered a second time,
	// byte-identical, minutes to hours later (default 0.01).
	DuplicateShare float64 `json:"duplicate_share"`
	// InvalidShare is the number of planted invalid lines per valid event
	// (default 0.002), spread evenly over the reasons missing_field,
	// wrong_type, bad_timestamp, unknown_type and not_json.
	InvalidShare float64 `json:"invalid_share"`
}

// withDefaults returns p with zero fields set to their defaults and negative
// ones to zero.
func (p Params) withDefaults() Params {
	f := func(v *float64, def float64) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	f(&p.WinRateSMB, 0.50)
	f(&p.WinRateMidMarket, 0.40)
	f(&p.WinRateEnterprise, 0.25)
	f(&p.MediumReviewPenalty, 0.07)
	f(&p.SlowReviewPenalty, 0.15)
	f(&p.IncompleteReviewPenalty, 0.20)
	f(&p.ReviewShareSMB, 0.20)
	f(&p.ReviewShareMidMarket, 0.50)
	f(&p.ReviewShareEnterprise, 0.85)
	f(&p.AccountWinEffect, 0.8)
	f(&p.AccountDealSkew, 1.5)
	f(&p.AccountReviewSpread, 0.8)
	f(&p.ServiceLeadSpread, 0.3)
	f(&p.GateDelayHours, 18)
	f(&p.GateFailRate, 0.09)
	f(&p.ChangeFailRate, 0.05)
	f(&p.ChangeFailRateWaived, 0.30)
	f(&p.CSATDrop, 0.6)
	f(&p.SecurityTicketShare, 0.03)
	f(&p.SecurityTicketShareAfterIncident, 0.25)
	f(&p.LateShare, 0.02)
	f(&p.LateMeanHours, 12)
	f(&p.DuplicateShare, 0.01)
	f(&p.InvalidShare, 0.002)
	return p
}

func (o Options) withDefaults() Options {
	if o.Days == 0 {
		o.Days = 365
	}
	if o.End.IsZero() {
		o.End = DefaultEnd
	}
	o.End = o.End.UTC().Truncate(time.Second)
	if o.Scale == 0 {
		o.Scale = 1
	}
	o.Params = o.Params.withDefaults()
	return o
}

// Validate names the first bad field: a negative Days or Scale is an error
// (zero means the default), and so is a window the contract cannot carry
// (see check). Params keep their own rule: negative means zero.
func (o Options) Validate() error {
	switch {
	case o.Days < 0:
		return fmt.Errorf("simulate options: Days %d is negative", o.Days)
	case o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0):
		return fmt.Errorf("simulate options: Scale %v is not a volume multiplier (0 means 1)", o.Scale)
	}
	return o.withDefaults().check()
}

// check rejects windows the contract cannot carry: event times must be RFC
// 3339 instants in 1971-2105, and the catalog starts 1100 days before the
// window.
func (o Options) check() error {
	first := o.End.Add(-time.Duration(o.Days)*24*time.Hour - catalogLead*time.Second)
	if first.Year() < 1971 || o.End.Year() > 2105 {
		return fmt.Errorf("simulate: window %s .. %s (with the catalog from %s) outside 1971-2105",
			o.End.Add(-time.Duration(o.Days)*24*time.Hour).Format(time.DateOnly), o.End.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	if o.Scale > 10000 {
		return fmt.Errorf("simulate: scale %g too large", o.Scale)
	}
	return nil
}
