package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Departments of the simulated organisation, in a fixed order.
var Departments = []string{"Engineering", "Data", "Operations", "Sales", "Marketing", "Finance", "HR", "Support", "Legal"}

// teamSpec is a service-owning team and its planted remediation speed.
type teamSpec struct {
	name, dept string
	fix        float64  // median days-to-fix as a multiple of the SLA days
	services   []string // service names
}

// teams: some meet the SLA (fix < 1), some do not (fix > 1).
var teamSpecs = []teamSpec{
	{"payments", "Engineering", 0.35, []string{"payments-api", "billing", "ledger", "invoicing"}},
	{"identity", "Engineering", 0.5, []string{"auth", "sso", "user-directory", "session"}},
	{"platform", "Engineering", 0.7, []string{"api-gateway", "message-bus", "search", "scheduler", "storage"}},
	{"web", "Engineering", 1.0, []string{"web-app", "recommendations", "cms", "checkout"}},
	{"mobile", "Engineering", 1.5, []string{"ios-backend", "android-backend", "push"}},
	{"data-platform", "Data", 0.9, []string{"warehouse", "etl", "event-collector"}},
	{"ml", "Data", 1.8, []string{"fraud-model", "forecasting", "feature-store"}},
	{"it-ops", "Operations", 1.2, []string{"vpn", "mdm", "intranet", "email-gateway"}},
	{"sre", "Operations", 0.6, []string{"status-page", "monitoring", "backup"}},
}

// service is a catalog entry (its current state while generating).
type service struct {
	ID, Name, Team, Dept, Product, Tier string
	Internet                            bool
	gateBlocking                        bool    // the service's CI gate blocks on failure
	tool                                string  // gate tool
	deployRate                          float64 // deployments per day at scale 1
	team                                int     // index into teamSpecs, as of now
	leadFactor                          float64 // planted service effect: multiplies its coding time
}

type account struct {
	ID, Name, Segment, Region, Industry string
	ticketWeight                        float64
	winEffect                           float64 // planted account effect: its deals' win probabilities are multiplied by 1+winEffect
	dealWeight                          float64 // relative number of opportunities it brings
	reviewFactor                        float64 // multiplies the review turnaround of its deals
}

type vendor struct{ ID, Name string }

// org is the simulated organisation.
type org struct {
	services  []*service
	accounts  []account
	bySeg     map[string][]int     // segment -> account indexes
	ticketCum []float64            // cumulative ticket weights over accounts
	dealCum   map[string][]float64 // segment -> cumulative deal weights over bySeg[segment]
	vendors   []vendor
}

var (
	products    = []string{"core", "payments", "analytics", "mobile"}
	regions     = []string{"na", "emea", "apac", "latam"}
	industries  = []string{"finance", "healthcare", "retail", "software", "manufacturing", "public_sector", "education"}
	gateTools   = []string{"semgrep-ci", "snyk-ci", "trivy-ci", "checkov-ci"}
	vendorWords = []string{"Cloud", "Data", "Sign", "Chat", "Form", "Mail", "Sheet", "Flow", "Desk", "Pay", "Track", "Note"}
)

func newOrg(r *rand.Rand, scale float64) *org {
	o := &org{bySeg: map[string][]int{}}
	for ti, t := range teamSpecs {
		for _, name := range t.services {
			s := &service{
				ID: "svc-" + name, Name: name, Team: t.name, Dept: t.dept,
				Product:      products[r.IntN(len(products))],
				Tier:         pick(r, []string{"critical", "high", "medium", "low"}, []float64{0.2, 0.35, 0.3, 0.15}),
				Internet:     r.Float64() < 0.45,
				gateBlocking: r.Float64() < 0.7,
				tool:         gateTools[r.IntN(len(gateTools))],
				deployRate:   0.3 + 2.2*r.Float64(),
				team:         ti,
			}
			o.services = append(o.services, s)
		}
	}
	n := int(1000*scale + 0.5)
	if n < 30 {
		n = 30
	}
	for i := 0; i < n; i++ {
		seg := pick(r, Segments, []float64{0.6, 0.3, 0.1})
		w := map[string]float64{"smb": 1, "mid_market": 2.5, "enterprise": 6}[seg]
		a := account{
			ID:           fmt.Sprintf("ACC-%06d", i+1),
			Name:         fmt.Sprintf("%s %s %d", pick(r, []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay"}, nil), industriesTitle(r), i+1),
			Segment:      seg,
			Region:       regions[r.IntN(len(regions))],
			Industry:     industries[r.IntN(len(industries))],
			ticketWeight: w * (0.5 + r.Float64()),
		}
		o.bySeg[seg] = append(o.bySeg[seg], i)
		o.accounts = append(o.accounts, a)
	}
	// Every segment needs accounts, even at tiny scales.
	for si, seg := range Segments {
		if len(o.bySeg[seg]) == 0 {
			o.accounts[si].Segment = seg
			o.bySeg[seg] = []int{si}
		}
	}
	for seg := range o.bySeg {
		o.bySeg[seg] = o.bySeg[seg][:0]
	}
	for i, a := range o.accounts {
		o.bySeg[a.Segment] = append(o.bySeg[a.Segment], i)
	}
	sum := 0.0
	for _, a := range o.accounts {
		sum += a.ticketWeight
		o.ticketCum = append(o.ticketCum, sum)
	}
	nv := int(200*scale + 0.5)
	if nv < 20 {
		nv = 20
	}
	for i := 0; i < nv; i++ {
		o.vendors = append(o.vendors, vendor{
			ID:   fmt.Sprintf("VEN-%05d", i+1),
			Name: vendorWords[r.IntN(len(vendorWords))] + vendorWords[r.IntN(len(vendorWords))] + fmt.Sprintf(" %d", i+1),
		})
	}
	return o
}

// plantEffects gives every account and service its planted random
// effect, from a stream of its own so the rest of the organisation does
// not change with the effect sizes: an account's deals share a win-rate
// factor 1+u, u uniform in [-AccountWinEffect, +AccountWinEffect], a service's
// deployments a coding-time factor exp(N(0, ServiceLeadSpread^2)). Deals of
// one account and deployments of one service are then not independent,
// and intervals that assume they are come out too narrow. Accounts also
// differ in how many opportunities they bring (log-normal weights with
// sigma AccountDealSkew, as a few large customers bring many renewals and
// expansions) and in how long their security reviews take (a factor
// exp(N(0, AccountReviewSpread^2)): some send heavy questionnaires every
// time), which makes the clustering matter more.
func (o *org) plantEffects(r *rand.Rand, p Params) {
	for i := range o.accounts {
		o.accounts[i].winEffect = p.AccountWinEffect * (2*r.Float64() - 1)
		o.accounts[i].dealWeight = math.Exp(p.AccountDealSkew * r.NormFloat64())
		o.accounts[i].reviewFactor = math.Exp(p.AccountReviewSpread * r.NormFloat64())
	}
	o.dealCum = map[string][]float64{}
	for _, seg := range Segments {
		sum := 0.0
		for _, i := range o.bySeg[seg] {
			sum += o.accounts[i].dealWeight
			o.dealCum[seg] = append(o.dealCum[seg], sum)
		}
	}
	for _, s := range o.services {
		s.leadFactor = math.Exp(p.ServiceLeadSpread * r.NormFloat64())
	}
}

func industriesTitle(r *rand.Rand) string {
	return pick(r, []string{"Corp", "Inc", "GmbH", "Ltd", "Group", "Labs"}, nil)
}

// dealAccount draws an account of a segment weighted by its deal weight.
func (o *org) dealAccount(r *rand.Rand, seg string) int {
	cum := o.dealCum[seg]
	x := r.Float64() * cum[len(cum)-1]
	return o.bySeg[seg][min(sort.SearchFloat64s(cum, x), len(cum)-1)]
}

// ticketAccount draws an account weighted by its ticket rate.
func (o *org) ticketAccount(r *rand.Rand) int {
	x := r.Float64() * o.ticketCum[len(o.ticketCum)-1]
	return sort.SearchFloat64s(o.ticketCum, x)
}

// pick draws one of values with the given weights (uniform when nil).
func pick(r *rand.Rand, values []string, weights []float64) string {
	if weights == nil {
		return values[r.IntN(len(values))]
	}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return values[i]
		}
		x -= w
	}
	return values[len(values)-1]
}
