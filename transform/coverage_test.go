package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/secimpact/impact/transform/stats"
)

// covParams describe the organisations the coverage test simulates in
// memory: accounts whose deals share a win-rate factor and a propensity
// for fast or slow security reviews (so deals of one account go together
// on both sides of the comparison), segments that confound review speed
// with win rate, services whose deployments share a lead-time factor, and
// accounts whose CSAT ratings share a base distribution.
type covParams struct {
	Accounts     int
	Deals        float64 // mean deals per account
	Skew         float64 // sigma of the log of an account's deal weight
	WinEffect    float64 // account factor 1+u, u uniform in [-WinEffect, WinEffect]
	ReviewSpread float64 // sd of an account's shift of the log-odds of a fast review
	Services     int
	Affected     int // accounts with CSAT ratings around an incident
}

// Planted effects, the same in every organisation.
const (
	plantedRD    = 0.12 // fast minus slow win rate within every segment
	plantedDiD   = 0.08 // win-rate change of reviewed deals after the process change
	plantedDelay = 9.0  // hours a gate block adds to a deployment's lead time
	csatQ        = 0.4  // chance a rating after an incident is one point lower
)

// CSAT base distributions (scores 1-5) of the account types, drawn
// uniformly; the planted paired drop is csatQ times the mean chance of a
// score above 1.
var csatTypes = [][5]float64{
	{0.05, 0.05, 0.15, 0.35, 0.40},
	{0.15, 0.15, 0.25, 0.25, 0.20},
	{0.02, 0.03, 0.10, 0.25, 0.60},
}

func plantedCSAT() float64 {
	var s float64
	for _, d := range csatTypes {
		s += 1 - d[0]
	}
	return -csatQ * s / float64(len(csatTypes))
}

var changeDate = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

// simulateOrg builds the statsInput of one organisation. It returns the
// slow-review pipeline of every segment too, for the revenue figure's
// planted value.
func simulateOrg(r *rand.Rand, p covParams) *statsInput {
	in := &statsInput{}
	segs := []struct {
		name       string
		mix, base  float64 // share of accounts, win rate of a fast review
		fastLogOdd float64 // segment's log-odds of a fast review (the confounder)
		amount     float64
	}{
		{"smb", 0.5, 0.50, 1.4, 15000},
		{"mid_market", 0.3, 0.40, 0, 60000},
		{"enterprise", 0.2, 0.25, -1.4, 250000},
	}
	for a := 0; a < p.Accounts; a++ {
		x := r.Float64()
		s := segs[0]
		for _, sg := range segs {
			if x < sg.mix {
				s = sg
				break
			}
			x -= sg.mix
		}
		factor := 1 + p.WinEffect*(2*r.Float64()-1)
		fastP := 1 / (1 + math.Exp(-(s.fastLogOdd + p.ReviewSpread*r.NormFloat64())))
		n := poissonDraw(r, p.Deals*math.Exp(p.Skew*r.NormFloat64()-p.Skew*p.Skew/2))
		acct := fmt.Sprintf("A%04d", a)
		for range n {
			m := month(202501 + r.IntN(12))
			d := dealRow{Account: acct, Segment: s.name, Month: m, Amount: s.amount, Cycle: 30, Outcome: "lost"}
			prob := s.base
			d.ReviewRequired = r.Float64() < 0.6
			switch {
			case !d.ReviewRequired:
				d.Bucket = "none"
			case r.Float64() < fastP:
				d.Bucket = "fast"
			default:
				d.Bucket = "slow"
				prob -= plantedRD
			}
			d.ReviewBucket = d.Bucket
			if d.ReviewRequired && !m.start().Before(changeDate) {
				prob += plantedDiD
			}
			if r.Float64() < prob*factor {
				d.Won, d.Outcome = true, "won"
			}
			in.Deals = append(in.Deals, d)
		}
	}
	// Tickets of accounts affected by incidents: ratings before and after.
	for a := 0; a < p.Affected; a++ {
		dist := csatTypes[r.IntN(len(csatTypes))]
		acct := fmt.Sprintf("T%04d", a)
		counts := map[[2]uint8]int{}
		for _, after := range []bool{false, true} {
			k := 1 + poissonDraw(r, 4)
			for range k {
				u, score := r.Float64(), uint8(5)
				for i, pr := range dist {
					if u < pr {
						score = uint8(i + 1)
						break
					}
					u -= pr
				}
				a := uint8(0)
				if after {
					a = 1
					if score > 1 && r.Float64() < csatQ {
						score--
					}
				}
				counts[[2]uint8{a, score}]++
			}
		}
		for k, n := range counts {
			in.Tickets = append(in.Tickets, ticketGroup{Account: acct, Month: 202506, After: k[0] == 1, Rated: true, AffectedAcct: true, CSAT: k[1], N: n})
		}
	}
	// Deployments: a service factor on coding time; blocks independent of
	// the service, adding exactly plantedDelay hours.
	for s := 0; s < p.Services; s++ {
		f := math.Exp(0.5 * r.NormFloat64())
		n := 5 + poissonDraw(r, 35)
		var b, u []float64
		for range n {
			lead := f * 20 * math.Exp(0.9*r.NormFloat64())
			if r.Float64() < 0.25 {
				b = append(b, lead+plantedDelay)
			} else {
				u = append(u, lead)
			}
		}
		svc := fmt.Sprintf("svc-%02d", s)
		for _, g := range []struct {
			blocked bool
			lead    []float64
		}{{true, b}, {false, u}} {
			if len(g.lead) > 0 {
				in.Deployments = append(in.Deployments, deployGroup{Service: svc, Department: "Eng", Team: "t", Environment: "production",
					Status: "success", Blocked: g.blocked, Month: 202506, N: len(g.lead), Lead: g.lead})
			}
		}
	}
	return in
}

func poissonDraw(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 50 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

type coverage struct{ clustered, naive, n, nNaive int }

func (c coverage) String() string {
	naive := "no naive interval"
	if c.nNaive > 0 {
		naive = fmt.Sprintf("naive %d/%d (%.1f%%)", c.naive, c.nNaive, 100*float64(c.naive)/float64(c.nNaive))
	}
	return fmt.Sprintf("clustered %d/%d (%.1f%%), %s", c.clustered, c.n, 100*float64(c.clustered)/float64(c.n), naive)
}

// runCoverage simulates orgs organisations and counts how often each
// headline figure's 95% interval (and its naive one) holds the planted
// value, running the same computation as the transform (computeStats).
func runCoverage(t *testing.T, p covParams, orgs int, seed uint64) map[string]*coverage {
	t.Helper()
	res := map[string]*coverage{}
	in := func(lo, hi, v float64) bool { return lo <= v && v <= hi }
	o := StatsOptions{Options: stats.Options{Resamples: 400}, Changes: []Change{{Name: "questionnaire-automation", Date: changeDate}}}
	for i := 0; i < orgs; i++ {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		org := simulateOrg(r, p)
		var slowUSD float64
		for _, d := range org.Deals {
			if d.Bucket == "slow" {
				slowUSD += d.Amount
			}
		}
		got := map[string]Stat{}
		for _, s := range computeStats(org, o) {
			if s.Period.Name == "all" {
				got[s.Metric+"/"+s.Dimension+"/"+s.Value] = s
			}
		}
		for _, c := range []struct {
			key     string
			planted float64
		}{
			{"win_rate_diff_fast_minus_slow/stratified/segment", plantedRD},
			{"revenue_associated_slow_reviews_usd/stratified/segment", plantedRD * slowUSD},
			{"win_rate_did/change/questionnaire-automation", plantedDiD},
			{"csat_incident_drop/paired/account", plantedCSAT()},
			{"gate_delay_hours/all/blocked_minus_unblocked", plantedDelay},
		} {
			s, ok := got[c.key]
			if !ok || math.IsNaN(s.Low) {
				t.Fatalf("organisation %d: no interval for %s (%+v)", i, c.key, s)
			}
			if !s.Enough {
				t.Fatalf("organisation %d: %s below the minimum n (%s): make the organisations larger", i, c.key, s.Note)
			}
			cv := res[c.key]
			if cv == nil {
				cv = &coverage{}
				res[c.key] = cv
			}
			cv.n++
			if in(s.Low, s.High, c.planted) {
				cv.clustered++
			}
			if !math.IsNaN(s.NaiveLow) {
				cv.nNaive++
				if in(s.NaiveLow, s.NaiveHigh, c.planted) {
					cv.naive++
				}
			}
		}
	}
	return res
}

// TestCoverage is the honesty test of the headline figures: over 200
// simulated organisations with planted effects and account- and
// service-level clustering, the 95% intervals must hold the planted value
// in 90-99% of them. It runs the transform's own computation
// (computeStats) on organisations built in memory, so it is fast; the
// pipeline tests (TestPipelineTruth, checkPlanted) put one organisation
// through ClickHouse. With strong clustering the naive intervals (deals or
// tickets as independent) must be shown to under-cover.
func TestCoverage(t *testing.T) {
	t.Parallel()
	moderate := covParams{Accounts: 200, Deals: 10, Skew: 0.5, WinEffect: 0.5, ReviewSpread: 1, Services: 30, Affected: 150}
	for key, c := range runCoverage(t, moderate, 200, 1) {
		t.Logf("moderate clustering, %s: %s", key, c)
		if rate := float64(c.clustered) / float64(c.n); rate < 0.90 || rate > 0.99 {
			t.Errorf("%s: the 95%% interval holds the planted value in %.1f%% of organisations, want 90-99%%", key, 100*rate)
		}
	}
	strong := covParams{Accounts: 80, Deals: 25, Skew: 0.7, WinEffect: 0.9, ReviewSpread: 2.5, Services: 30, Affected: 150}
	res := runCoverage(t, strong, 100, 2)
	for key, c := range res {
		t.Logf("strong clustering, %s: %s", key, c)
	}
	for _, key := range []string{"win_rate_diff_fast_minus_slow/stratified/segment"} {
		c := res[key]
		if rate := float64(c.naive) / float64(c.nNaive); rate >= 0.90 {
			t.Errorf("%s: with strong clustering the naive interval still holds the planted value in %.1f%%: the test shows nothing", key, 100*rate)
		}
		if rate := float64(c.clustered) / float64(c.n); rate < 0.90 {
			t.Errorf("%s: with strong clustering the cluster-robust interval holds the planted value in only %.1f%%", key, 100*rate)
		}
	}
}
