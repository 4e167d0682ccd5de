package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/transform"
)

// TestEndToEnd is the whole push path on the test Kafka (the real broker
// in CI) and ClickHouse: signed GitHub, PagerDuty, HubSpot and Zendesk
// webhooks and a catalog entry posted to /events -> gateway -> Kafka ->
// ingest --drain -> transform. The finding is in findings with its service
// and the team the catalog gives it, the incident in incident_events with
// its severity and service, the deal in deal_facts with its account,
// outcome and review bucket, the ticket in ticket_facts after the incident.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cc := testenv.ClickHouse(t)
	// Recent times: the contract rejects events from too far in the past or future.
	day := 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	date := func(d time.Duration) string { return now.Add(d).Format("2006-01-02") }

	post := func(path, source string, body []byte, hdr map[string]string) {
		t.Helper()
		if code, _, rep := e.post(t, path, source, body, hdr); code != http.StatusAccepted {
			t.Fatalf("%s: %d %v", path, code, rep)
		}
	}
	// The catalog: payments-api belongs to the payments team.
	post("/events", Events, []byte(fmt.Sprintf(`{"specversion":"1.0","id":"cat-1","source":"catalog","type":"catalog.service.upserted","time":%q,
		"data":{"service_id":"payments-api","team":"payments","department":"engineering","tier":"high","internet_facing":true,"effective_at":%q}}`,
		ts(-90*day), ts(-90*day))), map[string]string{"Content-Type": "application/cloudevents+json"})
	// GitHub: a Dependabot alert on acme/payments, opened then fixed.
	alert := sourcetest.Edit(t, sharedFixture(t, "github", "dependabot_alert.created.json"), map[string]any{
		"repository.full_name": "acme/payments", "alert.created_at": ts(-10 * day), "alert.updated_at": ts(-10 * day)})
	post("/webhooks/github", GitHub, alert, map[string]string{"X-GitHub-Event": "dependabot_alert", "X-GitHub-Delivery": "e2e-1"})
	fixed := sourcetest.Edit(t, alert, map[string]any{"action": "fixed", "alert.state": "fixed", "alert.fixed_at": ts(-2 * day), "alert.updated_at": ts(-2 * day)})
	post("/webhooks/github", GitHub, fixed, map[string]string{"X-GitHub-Event": "dependabot_alert", "X-GitHub-Delivery": "e2e-2"})
	// PagerDuty: a security incident, triggered and resolved.
	inc := sourcetest.Edit(t, mapperFixture(t, "pagerduty", "incident.triggered.json"), map[string]any{
		"event.occurred_at": ts(-5 * day), "event.data.created_at": ts(-5 * day)})
	post("/webhooks/pagerduty", PagerDuty, inc, nil)
	post("/webhooks/pagerduty", PagerDuty, sourcetest.Edit(t, inc, map[string]any{"event.event_type": "incident.resolved",
		"event.occurred_at": ts(-5*day + 3*time.Hour), "event.data.status": "resolved"}), nil)
	// HubSpot: a deal won after a 3-day security review (fast).
	e.crm.set("18230411007", sourcetest.Edit(t, mapperFixture(t, "hubspot", "api.deal.json"), map[string]any{
		"properties.createdate": ts(-40 * day), "properties.closedate": ts(-1 * day),
		"properties.security_review_requested_date": date(-20 * day), "properties.security_review_completed_date": date(-17 * day)}))
	post("/webhooks/hubspot", HubSpot, sourcetest.Edit(t, mapperFixture(t, "hubspot", "webhook.deal.propertyChange.json"), map[string]any{
		"0.occurredAt": ms(-1 * day), "1.occurredAt": ms(-1 * day)}), nil)
	// Zendesk: a ticket of the same account, two days after the incident.
	post("/webhooks/zendesk", Zendesk, sourcetest.Edit(t, mapperFixture(t, "zendesk", "event.ticket.created.json"), map[string]any{
		"time": ts(-3 * day), "detail.created_at": ts(-3 * day), "detail.updated_at": ts(-3 * day)}), nil)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := ingest.Run(ctx, ingest.Config{
		Kafka: e.kafka, ClickHouse: cc, GroupID: "gateway" + testenv.TopicSuffix(t), Drain: true, NoMigrate: true,
		FlushAge: 200 * time.Millisecond, CommitInterval: 200 * time.Millisecond, BackoffMax: time.Second,
	})
	if err != nil {
		t.Fatalf("ingest --drain: %v", err)
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := transform.Refresh(ctx, conn, transform.Options{AsOf: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatalf("transform: %v", err)
	}
	query := func(q string) []string {
		t.Helper()
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rows.Close()
		var out []string
		cols := rows.ColumnTypes()
		for rows.Next() {
			vals := make([]any, len(cols))
			for i, c := range cols {
				vals[i] = newScan(c.DatabaseTypeName())
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, v := range deref(vals) {
				parts = append(parts, fmt.Sprint(v))
			}
			out = append(out, strings.Join(parts, " "))
		}
		return out
	}
	if got := query(`SELECT finding_id, service_id, team, department, status, toString(days_to_fix) FROM findings`); len(got) != 1 ||
		got[0] != "github:acme/payments/dependabot/20 payments-api payments engineering fixed 8" {
		t.Errorf("findings: %q", got)
	}
	if got := query(`SELECT incident_id, argMax(severity, event_time), argMax(status, event_time), toString(argMax(affected_service_ids, event_time)) FROM incident_events GROUP BY incident_id`); len(got) != 1 ||
		got[0] != "pagerduty:incident/Q2KZNW1YH3QXLT high resolved ['Security Incident Response']" {
		t.Errorf("incident_events: %q", got)
	}
	if got := query(`SELECT opportunity_id, account_id, segment, outcome, toString(won), review_bucket, toString(review_turnaround_days) FROM deal_facts`); len(got) != 1 ||
		got[0] != "hubspot:deal/18230411007 globex enterprise won 1 fast 3" {
		t.Errorf("deal_facts: %q", got)
	}
	if got := query(`SELECT ticket_id, account_id, toString(security_related), toString(after_incident_30d) FROM ticket_facts`); len(got) != 1 ||
		got[0] != "zendesk:ticket/48213 globex 1 0" {
		// PagerDuty names no customer accounts, so no ticket follows an
		// incident of its account: after_incident_30d stays 0.
		t.Errorf("ticket_facts: %q", got)
	}
}

func newScan(typ string) any {
	switch typ {
	case "String":
		return new(string)
	case "UInt8":
		return new(uint8)
	}
	return new(string)
}

func deref(vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		switch p := v.(type) {
		case *string:
			out[i] = *p
		case *uint8:
			out[i] = *p
		}
	}
	return out
}
