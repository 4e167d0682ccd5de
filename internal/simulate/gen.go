package simulate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
)

// Record is one delivered line: a structured-mode CloudEvent (or, for a
// planted not_json line, broken bytes).
type Record struct {
	// Type is the CloudEvents type, used for topic routing
	// (config.Topics.ForType). A planted invalid line carries the type of
	// the valid event it was derived from.
	Type string
	// Subject is the entity id: the Kafka key.
	Subject string
	// Value is the JSON object without a trailing newline. The generator
	// never reuses it, so a sink may keep it.
	Value []byte
	// Invalid is the planted reason (one of InvalidReasons) for an invalid
	// line, "" for a valid event or its duplicate.
	Invalid string
}

// WriteJSONL simulates opts and writes one event per line to w, in delivery
// order, returning the realised truth.
func WriteJSONL(ctx context.Context, w io.Writer, opts Options) (*Truth, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	t, err := Run(ctx, opts, func(r Record) error {
		bw.Write(r.Value)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write events: %w", err)
	}
	return t, nil
}

// Run simulates opts and hands every line to emit in delivery order. emit
// errors stop the run and are returned.
func Run(ctx context.Context, opts Options, emit func(Record) error) (*Truth, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	g := newGen(opts, emit)
	if err := g.run(ctx); err != nil {
		return nil, err
	}
	return g.tb.finish(), nil
}

const daySec = 86400

// item is a line waiting for delivery.
type item struct {
	deliver int64  // delivery instant (unix s)
	t       int64  // event time; 0 for invalid lines
	kind    uint8  // itemFirst, itemDup, itemInvalid
	reason  string // invalid lines: the planted reason
	typ     string
	subject string
	line    []byte
}

const (
	itemFirst = iota
	itemDup
	itemInvalid
)

type gen struct {
	opts  Options
	p     Params
	emit  func(Record) error
	start int64 // unix s of Start
	end   int64 // unix s of End
	scale float64

	org *org
	tb  *truthBuilder

	// one PCG stream per concern, so changing one family's draws leaves
	// the others' unchanged.
	rOrg, rSec, rDep, rCRM, rSup, rMess *rand.Rand
	// rFail draws the planted change failures (rollbacks and hotfixes
	// after a change), apart from rDep so every other deployment stays
	// as it was without them.
	rFail *rand.Rand

	heap  []hkey
	slots []item
	free  []int32
	seq   uint64

	scratch []byte           // data object being built
	catLife map[string]*life // catalog services get events on several days
	weyls   map[string]*weyl

	incByAcc map[string][]incRef // account -> incidents affecting it (final states)
	invalidN int
	// counters for ids
	nFinding, nGate, nIncident, nExc, nReview, nVA, nDep, nOpp, nTicket int
	nFollow                                                             int // planted follow-up deployments (DEPF-, GATEF-)
}

func newGen(opts Options, emit func(Record) error) *gen {
	seed := opts.Seed
	stream := func(k uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15*k+1)) }
	g := &gen{
		opts: opts, p: opts.Params, emit: emit,
		end:   opts.End.Unix(),
		scale: opts.Scale,
		rOrg:  stream(1), rSec: stream(2), rDep: stream(3), rCRM: stream(4), rSup: stream(5), rMess: stream(6), rFail: stream(8),
		catLife: map[string]*life{}, weyls: map[string]*weyl{},
	}
	g.start = g.end - int64(opts.Days)*daySec
	g.org = newOrg(g.rOrg, opts.Scale)
	g.org.plantEffects(stream(7), g.p)
	g.tb = newTruthBuilder(opts, g.start, g.end)
	return g
}

func (g *gen) run(ctx context.Context) error {
	g.catalog()
	g.backlog()
	for d := 0; d < g.opts.Days; d++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		day := g.start + int64(d)*daySec
		if err := g.catalogDay(day); err != nil {
			return fmt.Errorf("simulate day %d: %w", d, err)
		}
		g.incidentsDay(day)
		g.exceptionsDay(day)
		g.vendorsDay(day)
		g.findingsDay(day)
		g.deploymentsDay(day)
		g.dealsDay(day)
		g.ticketsDay(day)
		// Everything generated from now on happens at or after day+1, so
		// lines due before then can go out.
		if err := g.flush(day + daySec); err != nil {
			return err
		}
	}
	return g.flush(math.MaxInt64)
}

// --- delivery ----------------------------------------------------------

// event wraps data (a JSON object) in a CloudEvents envelope and queues it
// for delivery, with the delivery mess of Params applied.
func (g *gen) event(l *life, typ, source, subject string, t int64, data []byte) {
	version := l.n
	// Exact-ish capacity: the envelope's fixed text is about 200 bytes.
	line := make([]byte, 0, len(data)+216+2*len(subject)+len(source)+2*len(typ))
	var o obj
	o.open(line)
	o.str("specversion", "1.0")
	o.key("id")
	o.b = append(o.b, '"')
	o.b = append(o.b, subject...)
	o.b = append(o.b, '.')
	o.b = strconv.AppendInt(o.b, int64(version), 10)
	o.b = append(o.b, '"')
	o.str("source", source)
	o.str("type", typ)
	o.time("time", t)
	o.str("subject", subject)
	o.str("datacontenttype", "application/json")
	o.key("dataschema")
	o.b = append(o.b, `"https://schemas.secimpact.dev/impact/`...)
	o.b = append(o.b, familyName(typ)...)
	o.b = append(o.b, `/v1"`...)
	o.raw("data", data)
	line = o.close()

	r := g.rMess
	delay := int64(r.IntN(121))
	if r.Float64() < g.p.LateShare {
		delay = int64(r.ExpFloat64() * g.p.LateMeanHours * 3600)
		if delay > 7*daySec {
			delay = 7 * daySec
		}
		g.tb.t.Delivery.Delayed++
	}
	deliver := t + delay
	// Out of order: earlier events of this entity that arrive after this one.
	for i, dv := range l.delivered {
		if dv > deliver && i < 64 && l.late&(1<<i) == 0 {
			l.late |= 1 << i
			g.tb.t.Delivery.OutOfOrder++
		}
	}
	l.delivered = append(l.delivered, deliver)
	g.push(item{deliver: deliver, t: t, kind: itemFirst, typ: typ, subject: subject, line: line})
	if r.Float64() < g.p.DuplicateShare {
		g.push(item{deliver: t + delay + 60 + int64(r.IntN(6*3600)), t: t, kind: itemDup, typ: typ, subject: subject, line: line})
	}
	g.tb.validEvent(typ)
	if g.p.InvalidShare > 0 && r.Float64() < g.p.InvalidShare {
		g.invalid(typ, subject, t, line)
	}
}

// familyName returns the type without its verb: security.finding.opened ->
// security.finding; deployment.started -> deployment.
func familyName(typ string) string {
	for i := len(typ) - 1; i >= 0; i-- {
		if typ[i] == '.' {
			return typ[:i]
		}
	}
	return typ
}

// Invalid reasons, in the order they are planted.
var InvalidReasons = []string{"missing_field", "wrong_type", "bad_timestamp", "unknown_type", "not_json"}

// invalid plants one invalid line derived from a valid one, with its own id
// so it can never be mistaken for (or deduplicated with) the valid event.
func (g *gen) invalid(typ, subject string, t int64, valid []byte) {
	reason := InvalidReasons[g.invalidN%len(InvalidReasons)]
	g.invalidN++
	s := string(valid)
	// A distinct id naming the reason, "<subject>.<n>.invalid-<reason>", so
	// the line is never deduplicated with the valid event and a DLQ row
	// tells which mess it is.
	s = replaceValue(s, "id", func(v string) string { return v[:len(v)-1] + `.invalid-` + reason + `"` })
	switch reason {
	case "missing_field":
		// the first data field is always the entity id (required).
		s = removeFirstDataField(s)
	case "wrong_type":
		s = replaceFirstDataValue(s, "12345")
	case "bad_timestamp":
		bad := []string{`"yesterday"`, `"2026-02-30T10:00:00Z"`, `"1751328000"`}[g.invalidN%3]
		s = replaceValue(s, "time", func(string) string { return bad })
	case "unknown_type":
		s = replaceValue(s, "type", func(string) string { return `"` + familyName(typ) + `.archived"` })
	case "not_json":
		s = s[:len(s)/2]
	}
	g.tb.invalid(reason)
	g.push(item{deliver: t + int64(g.rMess.IntN(3600)), kind: itemInvalid, reason: reason, typ: typ, subject: subject, line: []byte(s)})
}

// push queues a line. The heap itself holds only pointer-free keys (so
// sifting does not trip GC write barriers); the lines wait in slots.
func (g *gen) push(it item) {
	g.seq++
	var slot int32
	if n := len(g.free); n > 0 {
		slot = g.free[n-1]
		g.free = g.free[:n-1]
		g.slots[slot] = it
	} else {
		slot = int32(len(g.slots))
		g.slots = append(g.slots, it)
	}
	h := append(g.heap, hkey{deliver: it.deliver, seq: g.seq, slot: slot})
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(&h[i], &h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	g.heap = h
}

// hkey orders queued lines by delivery time, then by queueing order.
type hkey struct {
	deliver int64
	seq     uint64
	slot    int32
}

func less(a, b *hkey) bool {
	if a.deliver != b.deliver {
		return a.deliver < b.deliver
	}
	return a.seq < b.seq
}

func (g *gen) pop() item {
	h := g.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && less(&h[r], &h[l]) {
			m = r
		}
		if !less(&h[m], &h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	g.heap = h
	it := g.slots[top.slot]
	g.slots[top.slot] = item{}
	g.free = append(g.free, top.slot)
	return it
}

// flush delivers every queued line due before until.
func (g *gen) flush(until int64) error {
	for len(g.heap) > 0 && g.heap[0].deliver < until {
		it := g.pop()
		switch it.kind {
		case itemDup:
			g.tb.t.Delivery.Duplicates++
		}
		g.tb.t.Delivery.Lines++
		if err := g.emit(Record{Type: it.typ, Subject: it.subject, Value: it.line, Invalid: it.reason}); err != nil {
			return fmt.Errorf("emit event %d: %w", g.tb.t.Delivery.Lines, err)
		}
	}
	return nil
}

// --- byte surgery for invalid lines ------------------------------------

// replaceValue replaces the string value of the top-level key k.
func replaceValue(s, k string, f func(old string) string) string {
	pat := `"` + k + `":"`
	i := indexOf(s, pat)
	if i < 0 {
		return s
	}
	vs := i + len(pat) - 1
	ve := vs + 1
	for ve < len(s) && s[ve] != '"' {
		ve++
	}
	return s[:vs] + f(s[vs:ve+1]) + s[ve+1:]
}

func removeFirstDataField(s string) string {
	i := indexOf(s, `"data":{`)
	if i < 0 {
		return s
	}
	fs := i + len(`"data":{`)
	fe := fs
	for fe < len(s) && s[fe] != ',' {
		fe++
	}
	return s[:fs] + s[fe+1:]
}

func replaceFirstDataValue(s, v string) string {
	i := indexOf(s, `"data":{`)
	if i < 0 {
		return s
	}
	fs := i + len(`"data":{`)
	c := fs
	for c < len(s) && s[c] != ':' {
		c++
	}
	fe := c
	for fe < len(s) && s[fe] != ',' {
		fe++
	}
	return s[:c+1] + v + s[fe:]
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// --- random helpers ----------------------------------------------------

// poisson draws a Poisson count with mean l (normal approximation above 30).
func poisson(r *rand.Rand, l float64) int {
	if l <= 0 {
		return 0
	}
	if l > 30 {
		n := int(math.Round(l + math.Sqrt(l)*r.NormFloat64()))
		if n < 0 {
			n = 0
		}
		return n
	}
	L := math.Exp(-l)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= L {
			return k
		}
		k++
	}
}

// lognormal draws a log-normal value with the given median and sigma.
func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// secs converts days or hours (float) to whole seconds, at least 1.
func days(d float64) int64 {
	s := int64(d * daySec)
	if s < 1 {
		s = 1
	}
	return s
}

func hours(h float64) int64 {
	s := int64(h * 3600)
	if s < 1 {
		s = 1
	}
	return s
}

// life keeps an entity's event times strictly increasing (at second
// resolution), so "the latest event" is never a tie, and stops at End.
type life struct {
	last int64
	end  int64
	n    int // events emitted
	// delivery times of the emitted events, and which of them are already
	// counted as out of order
	delivered []int64
	late      uint64
}

// at returns the time of the next event, not before t and after the
// previous one, and whether it is within the simulated window.
func (l *life) at(t int64) (int64, bool) {
	if t <= l.last {
		t = l.last + 1
	}
	if t > l.end {
		return t, false
	}
	l.last = t
	l.n++
	return t, true
}

// sha returns a deterministic 40-hex commit id.
func sha(r *rand.Rand) string {
	var b [40]byte
	for i := 0; i < 40; i += 16 {
		v := r.Uint64()
		for j := 0; j < 16 && i+j < 40; j++ {
			b[i+j] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	return string(b[:])
}

// weyl is a low-discrepancy sequence in [0,1) (additive recurrence by the
// golden ratio). The planted outcomes (win/loss per segment and review
// bucket, CSAT scores per group, coding time per gated/ungated deployment)
// draw from one sequence per group instead of independent uniforms, so the
// realised effects sit within about 1/n of the planted values even at demo
// volume while single entities still look random.
type weyl struct{ x float64 }

func (w *weyl) next() float64 {
	w.x += 0.6180339887498949
	if w.x >= 1 {
		w.x--
	}
	return w.x
}

// lowDisc returns the sequence of a group, starting at a seeded point.
func (g *gen) lowDisc(group string) *weyl {
	w := g.weyls[group]
	if w == nil {
		w = &weyl{x: g.rMess.Float64()}
		g.weyls[group] = w
	}
	return w
}

// quantileLognormal is the u-quantile of a log-normal with that median and sigma.
func quantileLognormal(u, median, sigma float64) float64 {
	u = math.Min(math.Max(u, 1e-6), 1-1e-6)
	return median * math.Exp(sigma*math.Sqrt2*math.Erfinv(2*u-1))
}
