package simulate

import (
	"fmt"
	"math"
)

// Ticket is a support ticket's state.
type Ticket struct {
	ID, AccountID, Status, Priority, Channel string
	Tags                                     []string
	SecurityRelated                          bool
	IncidentID                               string
	Created, FirstReply, Solved              int64
	CSAT                                     int64 // 0 absent
	CSATAt                                   int64
}

func (tk *Ticket) data(dst []byte) []byte {
	var o obj
	o.open(dst)
	o.str("ticket_id", tk.ID)
	o.str("account_id", tk.AccountID)
	o.str("status", tk.Status)
	o.str("priority", tk.Priority)
	o.optStr("channel", tk.Channel)
	if tk.Tags != nil {
		o.strs("tags", tk.Tags)
	}
	o.bool("security_related", tk.SecurityRelated)
	o.optStr("incident_id", tk.IncidentID)
	o.time("created_at", tk.Created)
	o.optTime("first_reply_at", tk.FirstReply)
	o.optTime("solved_at", tk.Solved)
	if tk.CSAT > 0 {
		o.int("csat_score", tk.CSAT)
		o.time("csat_at", tk.CSATAt)
	}
	return o.close()
}

// incRef is an incident as the ticket generator sees it: its final state.
type incRef struct {
	id       string
	detected int64
}

// csatBase is the baseline distribution of scores 1..5 (mean 4.12).
var csatBase = []float64{0.04, 0.06, 0.12, 0.30, 0.48}

func (g *gen) ticketsDay(day int64) {
	r := g.rSup
	n := poisson(r, 40*g.scale)
	for i := 0; i < n; i++ {
		a := g.org.accounts[g.org.ticketAccount(r)]
		g.ticket(a.ID, day+r.Int64N(daySec))
	}
}

// incidentTickets plants the extra tickets of accounts an incident
// affected, created within 30 days after detection.
func (g *gen) incidentTickets(in *Incident) {
	if g.incByAcc == nil {
		g.incByAcc = map[string][]incRef{}
	}
	r := g.rSup
	for _, acc := range in.Accounts {
		g.incByAcc[acc] = append(g.incByAcc[acc], incRef{in.ID, in.Detected})
	}
	for _, acc := range in.Accounts {
		if r.Float64() >= 0.6 {
			continue
		}
		for k := 1 + r.IntN(2); k > 0; k-- {
			g.ticket(acc, in.Detected+r.Int64N(30*daySec))
		}
	}
}

// afterIncident returns the latest incident affecting acc detected in
// [created - 30 days, created] (ticket_facts.after_incident_30d).
func afterIncident(refs []incRef, created int64) (string, bool) {
	best, found := incRef{}, false
	for _, ir := range refs {
		if ir.detected <= created && ir.detected >= created-30*daySec && (!found || ir.detected > best.detected) {
			best, found = ir, true
		}
	}
	return best.id, found
}

func (g *gen) ticket(acc string, t0 int64) {
	if t0 > g.end {
		return
	}
	r := g.rSup
	p := g.p
	g.nTicket++
	inc, after := afterIncident(g.incByAcc[acc], t0)
	tk := &Ticket{
		ID: fmt.Sprintf("TKT-%08d", g.nTicket), AccountID: acc, Status: "new",
		Priority: pick(r, []string{"low", "normal", "high", "urgent"}, []float64{0.25, 0.55, 0.15, 0.05}),
		Channel:  pick(r, []string{"email", "chat", "phone", "web"}, nil),
		Created:  t0,
	}
	share := p.SecurityTicketShare
	if after {
		share = p.SecurityTicketShareAfterIncident
	}
	if r.Float64() < share {
		tk.SecurityRelated = true
		tk.Tags = []string{"security"}
		if after {
			tk.IncidentID = inc
			tk.Tags = append(tk.Tags, "incident")
		}
	}
	dist, group := csatBase, "csat/baseline"
	if after {
		dist, group = csatAfter(p.CSATDrop), "csat/after_incident"
	}
	l := life{end: g.end}
	emit := func(typ string, t int64) bool {
		t, ok := l.at(t)
		if !ok {
			return false
		}
		g.scratch = tk.data(g.scratch[:0])
		g.event(&l, typ, "impact-sim/helpdesk", tk.ID, t, g.scratch)
		return true
	}
	defer func() { g.tb.ticket(tk) }()
	if !emit("support.ticket.created", t0) {
		return
	}
	tk.Status = "open"
	tk.FirstReply, _ = l.peek(t0 + hours(lognormal(r, 3, 1)))
	if !emit("support.ticket.updated", tk.FirstReply) {
		tk.Status, tk.FirstReply = "new", 0
		return
	}
	if r.Float64() >= 0.92 {
		return // still open
	}
	tk.Status = "solved"
	tk.Solved, _ = l.peek(tk.FirstReply + hours(lognormal(r, 20, 1.2)))
	if !emit("support.ticket.solved", tk.Solved) {
		tk.Status, tk.Solved = "open", 0
		return
	}
	if r.Float64() >= 0.55 {
		return
	}
	tk.Status = "closed"
	tk.CSAT = int64(categorical(g.lowDisc(group).next(), dist) + 1)
	tk.CSATAt, _ = l.peek(tk.Solved + hours(2+70*r.Float64()))
	if !emit("support.ticket.rated", tk.CSATAt) {
		tk.Status, tk.CSAT, tk.CSATAt = "solved", 0, 0
	}
}

// csatAfter is the score distribution after an incident: the baseline with
// each score above 1 lowered by one point with probability q, q chosen so
// the mean drops by exactly drop.
func csatAfter(drop float64) []float64 {
	q := math.Min(1, drop/(1-csatBase[0]))
	out := make([]float64, len(csatBase))
	for k, p := range csatBase {
		if k == 0 {
			out[0] += p
			continue
		}
		out[k] += p * (1 - q)
		out[k-1] += p * q
	}
	return out
}

// categorical returns the index whose cumulative weight interval holds u.
func categorical(u float64, w []float64) int {
	for i, p := range w {
		if u < p {
			return i
		}
		u -= p
	}
	return len(w) - 1
}
