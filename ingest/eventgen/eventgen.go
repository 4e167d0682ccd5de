// Package eventgen generates valid CloudEvents of contract v1 as Kafka
// messages, in a realistic mix of the ten event families, for ingest tests
// and the ingest benchmark. It is deliberately simpler than the simulated
// organisation (internal/simulate): fast, deterministic, no planted effects.
package eventgen

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
)

// kind is one event family with its share of the mix and its data writer.
type kind struct {
	types  []string
	weight int
	prefix string // entity id prefix
	data   func(b []byte, g *gen, entity string) []byte
}

var kinds = []kind{
	{[]string{"security.finding.opened", "security.finding.updated", "security.finding.fixed"}, 30, "F", findingData},
	{[]string{"security.gate.evaluated"}, 10, "G", gateData},
	{[]string{"deployment.started", "deployment.finished"}, 15, "D", deploymentData},
	{[]string{"crm.opportunity.created", "crm.opportunity.stage_changed", "crm.opportunity.closed"}, 10, "O", opportunityData},
	{[]string{"security.review.requested", "security.review.completed"}, 5, "R", reviewData},
	{[]string{"support.ticket.created", "support.ticket.updated", "support.ticket.solved"}, 18, "T", ticketData},
	{[]string{"security.incident.detected", "security.incident.resolved"}, 2, "I", incidentData},
	{[]string{"security.policy_exception.opened"}, 2, "P", exceptionData},
	{[]string{"security.vendor_assessment.requested", "security.vendor_assessment.completed"}, 3, "V", vendorData},
	{[]string{"catalog.service.upserted"}, 5, "S", serviceData},
}

var totalWeight = func() int {
	n := 0
	for _, k := range kinds {
		n += k.weight
	}
	return n
}()

// Options configure Generate. The zero value gives seed 1 and events
// spread over the year before 2026-01-01.
type Options struct {
	Seed uint64
	// Source is the CloudEvents source; default "urn:impact:eventgen".
	Source string
	// IDPrefix makes event ids unique across calls; default "e".
	IDPrefix string
	// EventsPerEntity is the mean number of events per entity; default 3.
	EventsPerEntity int
}

type gen struct {
	r    *rand.Rand
	base time.Time
	t    time.Time
}

// Generate returns n valid events as Kafka messages, each on the topic of
// its type (topics.ForType), keyed by entity id, in structured mode.
func Generate(n int, topics config.Topics, opts Options) []kafka.Message {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Source == "" {
		opts.Source = "urn:impact:eventgen"
	}
	if opts.IDPrefix == "" {
		opts.IDPrefix = "e"
	}
	if opts.EventsPerEntity <= 0 {
		opts.EventsPerEntity = 3
	}
	g := &gen{r: rand.New(rand.NewPCG(opts.Seed, 0x5eed)), base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	entities := max(n/opts.EventsPerEntity, 1)
	topicOf := map[string]string{}
	for _, k := range kinds {
		for _, t := range k.types {
			topicOf[t] = topics.ForType(t)
		}
	}
	hdr := []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}
	out := make([]kafka.Message, n)
	buf := make([]byte, 0, 1<<16)
	for i := range n {
		k := pick(g.r)
		typ := k.types[g.r.IntN(len(k.types))]
		entity := k.prefix + "-" + strconv.Itoa(g.r.IntN(entities))
		g.t = g.base.Add(time.Duration(g.r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second)
		start := len(buf)
		buf = append(buf, `{"specversion":"1.0","id":"`...)
		buf = append(buf, opts.IDPrefix...)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `","source":"`...)
		buf = append(buf, opts.Source...)
		buf = append(buf, `","type":"`...)
		buf = append(buf, typ...)
		buf = append(buf, `","time":"`...)
		buf = g.t.AppendFormat(buf, time.RFC3339)
		buf = append(buf, `","subject":"`...)
		buf = append(buf, entity...)
		buf = append(buf, `","datacontenttype":"application/json","data":`...)
		buf = k.data(buf, g, entity)
		buf = append(buf, '}')
		out[i] = kafka.Message{
			Topic:   topicOf[typ],
			Key:     []byte(entity),
			Value:   buf[start:len(buf):len(buf)],
			Headers: hdr,
		}
		if cap(buf)-len(buf) < 4096 {
			buf = make([]byte, 0, 1<<16) // earlier values keep the old array
		}
	}
	return out
}

func pick(r *rand.Rand) *kind {
	w := r.IntN(totalWeight)
	for i := range kinds {
		if w < kinds[i].weight {
			return &kinds[i]
		}
		w -= kinds[i].weight
	}
	return &kinds[0]
}

func (g *gen) oneOf(vs ...string) string { return vs[g.r.IntN(len(vs))] }

// obj writes a JSON object from alternating keys and pre-encoded values.
func obj(b []byte, kv ...string) []byte {
	b = append(b, '{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, kv[i]...)
		b = append(b, `":`...)
		b = append(b, kv[i+1]...)
	}
	return append(b, '}')
}

func q(s string) string { return `"` + s + `"` }

func (g *gen) ts(offsetHours int) string {
	return q(g.t.Add(time.Duration(offsetHours) * time.Hour).Format(time.RFC3339))
}

func (g *gen) svc() string  { return q("S-" + strconv.Itoa(g.r.IntN(40))) }
func (g *gen) acct() string { return q("A-" + strconv.Itoa(g.r.IntN(500))) }
func num(f float64) string  { return strconv.FormatFloat(f, 'f', 2, 64) }
func (g *gen) dept() string {
	return q(g.oneOf("engineering", "sales", "marketing", "finance", "support", "hr"))
}

func findingData(b []byte, g *gen, id string) []byte {
	return obj(b, "finding_id", q(id), "scanner", q(g.oneOf("snyk", "semgrep", "trivy", "zap")),
		"category", q(g.oneOf("sca", "sast", "dast", "container", "cloud", "secret")),
		"title", q("Finding in dependency"), "cve_id", q("CVE-2025-"+strconv.Itoa(1000+g.r.IntN(9000))),
		"severity", q(g.oneOf("critical", "high", "medium", "low", "info")), "cvss", num(g.r.Float64()*10),
		"service_id", g.svc(), "repo", q("git@example/repo"), "status", q(g.oneOf("open", "fixed", "dismissed")),
		"detected_at", g.ts(0), "internet_facing", g.oneOf("true", "false"))
}

func gateData(b []byte, g *gen, id string) []byte {
	return obj(b, "run_id", q(id), "service_id", g.svc(), "commit_sha", q("abc"+strconv.Itoa(g.r.IntN(1e6))),
		"tool", q(g.oneOf("snyk", "semgrep")), "result", q(g.oneOf("pass", "pass", "fail", "waived")),
		"blocking", g.oneOf("true", "false"), "findings_critical", strconv.Itoa(g.r.IntN(3)),
		"findings_high", strconv.Itoa(g.r.IntN(5)), "started_at", g.ts(0), "completed_at", g.ts(1))
}

func deploymentData(b []byte, g *gen, id string) []byte {
	return obj(b, "deployment_id", q(id), "service_id", g.svc(), "environment", q(g.oneOf("production", "staging")),
		"commit_sha", q("c"+strconv.Itoa(g.r.IntN(1e6))), "first_commit_at", g.ts(-30), "started_at", g.ts(0),
		"finished_at", g.ts(1), "status", q(g.oneOf("success", "success", "failure", "rolled_back")),
		"trigger", q(g.oneOf("feature", "hotfix", "security_fix", "config")), "security_gate_wait_seconds", num(g.r.Float64()*600),
		"fixes_finding_ids", `["F-1","F-2"]`)
}

func opportunityData(b []byte, g *gen, id string) []byte {
	return obj(b, "opportunity_id", q(id), "account_id", g.acct(), "account_name", q("Acme"),
		"segment", q(g.oneOf("smb", "mid_market", "enterprise")), "region", q("emea"),
		"deal_type", q(g.oneOf("new", "expansion", "renewal")), "stage", q(g.oneOf("discovery", "proposal", "closed")),
		"amount_usd", num(1000+g.r.Float64()*200000), "created_at", g.ts(-700), "closed_at", g.ts(0),
		"outcome", q(g.oneOf("open", "won", "lost", "no_decision")), "loss_reason", q(g.oneOf("price", "security", "competitor")),
		"security_review_required", g.oneOf("true", "false"))
}

func reviewData(b []byte, g *gen, id string) []byte {
	return obj(b, "review_id", q(id), "account_id", g.acct(), "opportunity_id", q("O-"+strconv.Itoa(g.r.IntN(1000))),
		"channel", q(g.oneOf("trust_center", "questionnaire", "call", "redline")), "question_count", strconv.Itoa(g.r.IntN(300)),
		"effort_hours", num(g.r.Float64()*40), "status", q(g.oneOf("requested", "in_progress", "completed")),
		"requested_at", g.ts(-200), "completed_at", g.ts(0))
}

func ticketData(b []byte, g *gen, id string) []byte {
	return obj(b, "ticket_id", q(id), "account_id", g.acct(), "status", q(g.oneOf("new", "open", "pending", "solved", "closed")),
		"priority", q(g.oneOf("low", "normal", "high", "urgent")), "channel", q("email"), "tags", `["billing","login"]`,
		"security_related", g.oneOf("true", "false", "false"), "created_at", g.ts(-48), "solved_at", g.ts(0),
		"csat_score", strconv.Itoa(1+g.r.IntN(5)), "csat_at", g.ts(1))
}

func incidentData(b []byte, g *gen, id string) []byte {
	return obj(b, "incident_id", q(id), "severity", q(g.oneOf("critical", "high", "medium", "low")),
		"category", q("data_exposure"), "status", q(g.oneOf("open", "contained", "resolved")),
		"affected_service_ids", "["+g.svc()+"]", "affected_account_ids", "["+g.acct()+","+g.acct()+"]",
		"contributing_departments", "["+g.dept()+"]", "records_exposed", strconv.Itoa(g.r.IntN(10000)),
		"customer_notified", "true", "cost_usd", num(g.r.Float64()*1e6), "detected_at", g.ts(0))
}

func exceptionData(b []byte, g *gen, id string) []byte {
	return obj(b, "exception_id", q(id), "department", g.dept(),
		"kind", q(g.oneOf("unsanctioned_saas", "regulated_data_sharing", "tool_without_assessment", "other")),
		"risk_tier", q(g.oneOf("critical", "high", "medium", "low")), "opened_at", g.ts(0))
}

func vendorData(b []byte, g *gen, id string) []byte {
	return obj(b, "assessment_id", q(id), "vendor_id", q("VN-"+strconv.Itoa(g.r.IntN(100))), "department", g.dept(),
		"risk_tier", q(g.oneOf("critical", "high", "medium", "low")), "status", q(g.oneOf("requested", "completed")),
		"requested_at", g.ts(-100), "assessment_cost_usd", num(g.r.Float64()*5000))
}

func serviceData(b []byte, g *gen, id string) []byte {
	return obj(b, "service_id", q(id), "service_name", q("svc "+id), "team", q("team-"+strconv.Itoa(g.r.IntN(8))),
		"department", g.dept(), "tier", q(g.oneOf("critical", "high", "medium", "low")),
		"internet_facing", g.oneOf("true", "false"), "effective_at", g.ts(0))
}
