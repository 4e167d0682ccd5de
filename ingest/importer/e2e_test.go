package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/gateway"
	"github.com/secimpact/impact/ingest/importer"
	"github.com/secimpact/impact/ingest/sources/catalog"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/transform"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// asOf is when the test organisation's data was exported.
var asOf = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// kafkaPublisher publishes as impact import does: kafkaio, acks from all
// in-sync replicas, keyed by entity.
func kafkaPublisher(kc config.Kafka) importer.Publisher {
	return func(ctx context.Context, r io.Reader) (int, error) {
		w, err := kafkaio.NewWriter(kc)
		if err != nil {
			return 0, err
		}
		st, err := kafkaio.Publish(ctx, w, r, kafkaio.PublishOptions{Topics: kc.Topics})
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return st.Published, err
	}
}

// importKestrel imports every export of the organisation, as a user
// following docs/import.md would: the catalog before and after the
// re-organisation, then each tool's files.
func importKestrel(t *testing.T, ctx context.Context, kc config.Kafka, m *mapping.File) int {
	t.Helper()
	o := importer.Options{Mapping: m, Publish: kafkaPublisher(kc)}
	published := 0
	run := func(src importer.Source, patterns ...string) {
		t.Helper()
		var files []export.File
		for _, p := range patterns {
			names, _ := filepath.Glob(kestrel + p)
			for _, n := range names {
				files = append(files, export.OSFile(n))
			}
		}
		s, err := importer.Run(ctx, src, files, o)
		if err != nil {
			t.Fatalf("import %s: %v", src.Name, err)
		}
		if s.Rejected > 0 || s.Published != s.Events || s.Events == 0 {
			var b bytes.Buffer
			s.WriteText(&b)
			t.Fatalf("import %s:\n%s", src.Name, b.String())
		}
		published += s.Published
	}
	for _, snap := range []struct{ dir, from string }{{"2025-10", "2025-10-01"}, {"2026-05", "2026-05-01"}} {
		eff, _ := time.Parse(time.DateOnly, snap.from)
		run(importer.Source{Name: "catalog", Import: func(ctx context.Context, fs []export.File, m *mapping.File, emit func(export.Outcome) error) error {
			return catalog.Import(ctx, fs, m, catalog.Options{EffectiveAt: eff}, emit)
		}}, "catalog/"+snap.dir+"/*.yaml")
	}
	for _, c := range []struct {
		source   string
		patterns []string
	}{
		{"salesforce", []string{"salesforce/*.csv"}},
		{"hubspot", []string{"hubspot/deals-*.json"}},
		{"zendesk", []string{"zendesk/*.json"}},
		{"jira", []string{"jira/*.json"}},
		{"pagerduty", []string{"pagerduty/*.json"}},
		{"github", []string{"github/*/*.json"}},
	} {
		run(source(t, c.source), c.patterns...)
	}
	return published
}

func drain(t *testing.T, ctx context.Context, kc config.Kafka, cc config.ClickHouse) {
	t.Helper()
	err := ingest.Run(ctx, ingest.Config{
		Kafka: kc, ClickHouse: cc, GroupID: "import" + testenv.TopicSuffix(t), Drain: true, NoMigrate: true,
		FlushAge: 200 * time.Millisecond, CommitInterval: 200 * time.Millisecond, BackoffMax: time.Second,
	})
	if err != nil {
		t.Fatalf("ingest --drain: %v", err)
	}
}

func refresh(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	if _, err := transform.Refresh(ctx, conn, transform.Options{AsOf: asOf, Full: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatalf("transform: %v", err)
	}
}

// rows runs q (every column cast to String or Nullable(String) by the query) and returns each
// row's columns joined by spaces, sorted.
func rows(t *testing.T, ctx context.Context, conn driver.Conn, q string) []string {
	t.Helper()
	rs, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rs.Close()
	var out []string
	n := len(rs.ColumnTypes())
	for rs.Next() {
		vals := make([]*string, n) // nullable columns scan as nil
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		strs := make([]string, n)
		for i, v := range vals {
			strs[i] = "NULL"
			if v != nil {
				strs[i] = *v
			}
		}
		out = append(out, strings.Join(strs, " "))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// analystTables is every analyst table's content without lineage (Kafka
// offsets differ between imports of the same events).
func analystTables(t *testing.T, ctx context.Context, conn driver.Conn) map[string][]string {
	t.Helper()
	return map[string][]string{
		"findings": rows(t, ctx, conn, `SELECT finding_id, toString(severity), service_id, status, toString(detected_at), toString(fixed_at), toString(dismissed_at),
			team, department, toString(days_to_fix), toString(sla_due_at), toString(within_sla), toString(reopened), toString(event_count), last_event_id FROM findings`),
		"deal_facts": rows(t, ctx, conn, `SELECT opportunity_id, account_id, segment, deal_type, toString(amount_usd), toString(created_at), toString(closed_at), outcome,
			toString(loss_reason), review_bucket, toString(review_turnaround_days), last_event_id FROM deal_facts`),
		"ticket_facts":     rows(t, ctx, conn, `SELECT ticket_id, account_id, status, toString(csat_score), toString(solved_at), toString(after_incident_30d), last_event_id FROM ticket_facts`),
		"deployment_facts": rows(t, ctx, conn, `SELECT deployment_id, service_id, team, department, status, toString(started_at), toString(finished_at) FROM deployment_facts`),
		"department_scorecard": rows(t, ctx, conn, `SELECT department, toString(month), toString(findings_opened), toString(findings_fixed), toString(open_critical), toString(open_high),
			toString(sla_within), toString(sla_breached), toString(deployments), toString(incidents), toString(incident_cost_usd), toString(cost_of_risk_usd) FROM department_scorecard`),
	}
}

// TestEndToEnd: the organisation's CSV and JSON exports -> impact import
// -> Kafka (the real broker with IMPACT_TEST_KAFKA=real) -> ingest ->
// transform -> the brief, whose figures equal those computed from the
// files directly. Then: findings before and after a re-organisation belong
// to the team and department of their time; importing everything again
// changes no analyst table; and a webhook through the gateway for a later
// change of an imported deal gives its latest state.
func TestEndToEnd(t *testing.T) {
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := kestrelMapping(t)
	k := loadKestrel(t)

	first := importKestrel(t, ctx, kc, m)
	drain(t, ctx, kc, cc)
	refresh(t, ctx, conn)

	// Nothing was rejected by ingest.
	if got := rows(t, ctx, conn, "SELECT toString(count()) FROM ingest_rejects"); got[0] != "0" {
		t.Fatalf("ingest rejected %s events: %v", got[0], rows(t, ctx, conn, "SELECT field, rule, detail FROM ingest_rejects LIMIT 5"))
	}

	t.Run("brief", func(t *testing.T) {
		// A calendar year: the brief shows the figures impact_stats stores
		// for it (the all-data row when every event lies inside it).
		p := brief.Period{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
		d, err := brief.Load(ctx, conn, p, brief.LoadOptions{Organisation: "Kestrel Analytics", Now: asOf})
		if err != nil {
			t.Fatal(err)
		}
		want := k.winRates(p.From, p.To)
		for _, bar := range d.WinRateByBucket {
			w := want[bar.Label]
			if bar.N != int64(w[1]) || (w[1] > 0 && math.Abs(bar.Value-100*float64(w[0])/float64(w[1])) > 1e-9) {
				t.Errorf("win rate %s: n %d value %.4f, want %d/%d", bar.Label, bar.N, bar.Value, w[0], w[1])
			}
		}
		t.Logf("win rates (won/closed by bucket) %v; brief %+v", want, d.WinRateByBucket)
		if n := want["fast"][1] + want["slow"][1]; n == 0 {
			t.Error("the fixtures close no fast or slow deal in the period")
		}
		lost, nLost := k.revenueLost(p.From, p.To)
		if math.Abs(d.RevenueLost.Estimate-lost) > 0.005 || d.RevenueLost.N != int64(nLost) || nLost == 0 {
			t.Errorf("revenue lost %.2f (n %d), want %.2f (n %d)", d.RevenueLost.Estimate, d.RevenueLost.N, lost, nLost)
		}
		t.Logf("revenue lost to security: %.2f USD in %d deals", lost, nLost)
		base, after, paired := k.csat(p.From, p.To)
		t.Logf("CSAT: baseline %.3f (n %d), after an incident %.3f (n %d), %d accounts with both", mean(base), len(base), mean(after), len(after), paired)
		if len(d.CSAT) != 2 || d.CSAT[0].N != int64(len(base)) || d.CSAT[1].N != int64(len(after)) ||
			math.Abs(d.CSAT[0].Value-mean(base)) > 1e-9 || math.Abs(d.CSAT[1].Value-mean(after)) > 1e-9 || len(after) == 0 {
			t.Errorf("CSAT %+v, want baseline %.4f (n %d), after %.4f (n %d)", d.CSAT, mean(base), len(base), mean(after), len(after))
		}
		for _, h := range d.Headlines {
			if h.Title == "CSAT change after security incidents" && h.N != int64(paired) {
				t.Errorf("paired CSAT n %d, want %d", h.N, paired)
			}
		}
		cost := k.incidentCost(p.From, p.To)
		t.Logf("incident cost by department %v", cost)
		got := map[string]float64{}
		for _, r := range d.Scorecard {
			got[r.Department] = r.IncidentCostUSD
		}
		for _, dept := range slices.Sorted(maps.Keys(cost)) {
			if math.Abs(got[dept]-cost[dept]) > 0.005 {
				t.Errorf("incident cost of %s: %.2f, want %.2f", dept, got[dept], cost[dept])
			}
		}
		var html bytes.Buffer
		if err := brief.Render(&html, d); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"Kestrel Analytics", "Revenue recorded as lost to security", "Win rate by security-review turnaround"} {
			if !strings.Contains(html.String(), s) {
				t.Errorf("the brief lacks %q", s)
			}
		}
		os.WriteFile(filepath.Join(t.TempDir(), "brief.html"), html.Bytes(), 0o644)
	})

	t.Run("re-organisation", func(t *testing.T) {
		// Every finding of Reporting belongs to the team that owned it
		// when it was detected: Customer Portal before 2026-05-01,
		// Insights after.
		want := map[string]string{}
		for _, f := range k.findings {
			team, dept := k.owner(f.service, f.detected)
			if f.service == "reporting" {
				want[f.id] = team + "/" + dept
			}
		}
		got := rows(t, ctx, conn, "SELECT finding_id, concat(team, '/', department) FROM findings WHERE service_id = 'reporting'")
		before, after := 0, 0
		for _, r := range got {
			id, org, _ := strings.Cut(r, " ")
			if want[id] != org {
				t.Errorf("finding %s: %s, want %s", id, org, want[id])
			}
			switch org {
			case "Customer Portal/Product Engineering":
				before++
			case "Insights/Data Platform":
				after++
			}
		}
		if len(got) != len(want) || before == 0 || after == 0 {
			t.Errorf("reporting findings %d (%d before, %d after the re-org), want %d", len(got), before, after, len(want))
		}
		// The department scorecard counts each finding for its department
		// at detection.
		opened := k.findingsOpened()
		sc := rows(t, ctx, conn, "SELECT department, formatDateTime(month, '%Y-%m'), toString(findings_opened) FROM department_scorecard WHERE findings_opened > 0")
		gotOpened := map[string]int{}
		for _, r := range sc {
			f := strings.Fields(r)
			var n int
			fmt.Sscan(f[len(f)-1], &n)
			gotOpened[strings.Join(f[:len(f)-1], " ")] = n
		}
		for _, key := range slices.Sorted(maps.Keys(opened)) {
			if gotOpened[key] != opened[key] {
				t.Errorf("findings opened %s: %d, want %d", key, gotOpened[key], opened[key])
			}
		}
		if len(gotOpened) != len(opened) {
			t.Errorf("scorecard months %v, want %v", gotOpened, opened)
		}
	})

	// Importing the same files again publishes the same events: the analyst
	// tables do not change.
	tables := analystTables(t, ctx, conn)
	again := importKestrel(t, ctx, kc, m)
	if again != first {
		t.Errorf("second import published %d events, the first %d", again, first)
	}
	drain(t, ctx, kc, cc)
	refresh(t, ctx, conn)
	for name, want := range analystTables(t, ctx, conn) {
		if got := tables[name]; strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) == 0 {
			t.Errorf("%s changed on a second import (%d rows before, %d after)", name, len(got), len(want))
		}
	}

	t.Run("webhook after import", func(t *testing.T) {
		webhookAfterImport(t, ctx, kc, cc, conn, m)
	})
}

// webhookAfterImport: an imported open HubSpot deal is won later; the
// signed webhook goes through the gateway, which reads the deal from the
// (fake) CRM API; deal_facts then holds the won deal, its history kept.
func webhookAfterImport(t *testing.T, ctx context.Context, kc config.Kafka, cc config.ClickHouse, conn driver.Conn, m *mapping.File) {
	const dealID = "31870563947" // open in the export (contractsent, no close date)
	before := rows(t, ctx, conn, "SELECT toString(count()) FROM opportunity_events WHERE opportunity_id = 'hubspot:deal/"+dealID+"'")
	if got := rows(t, ctx, conn, "SELECT opportunity_id FROM deal_facts WHERE opportunity_id = 'hubspot:deal/"+dealID+"'"); len(got) != 0 {
		t.Fatalf("deal %s is closed in the import already", dealID)
	}
	won := time.Date(2026, 11, 26, 14, 30, 0, 0, time.UTC)
	var page struct {
		Results []map[string]any `json:"results"`
	}
	readJSON(t, kestrel+"hubspot/deals-2.json", &page)
	var deal map[string]any
	for _, r := range page.Results {
		if r["id"] == dealID {
			deal = r
		}
	}
	if deal == nil {
		t.Fatalf("deal %s not in the fixture", dealID)
	}
	props := deal["properties"].(map[string]any)
	props["dealstage"], props["hs_is_closed"], props["hs_is_closed_won"] = "closedwon", "true", "true"
	props["closedate"], props["hs_lastmodifieddate"] = won.Format(time.RFC3339), won.Format(time.RFC3339)
	delete(deal, "propertiesWithHistory")
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/crm/v3/objects/deals/"+dealID) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(deal)
		w.Write(b)
	}))
	defer crm.Close()

	rawPrefix := "raw" + testenv.TopicSuffix(t) + "."
	if err := kafkalocal.CreateTopics(ctx, kc, []string{rawPrefix + "hubspot"}, 1); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{Kafka: kc, Mapping: m, Secrets: gateway.Secrets{HubSpot: "client-secret"},
		HubSpot: &hubspot.Client{BaseURL: crm.URL, Token: "token"}, RawTopicPrefix: rawPrefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	body := []byte(fmt.Sprintf(`[{"eventId": 4410021, "subscriptionId": 2841027, "portalId": 44120385, "appId": 3174201, "occurredAt": %d,
		"subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": %s, "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI"}]`,
		won.UnixMilli(), dealID))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/webhooks/hubspot", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := gateway.Sign(gateway.HubSpot, "client-secret", req, body, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("gateway answered %d", resp.StatusCode)
	}
	drain(t, ctx, kc, cc)
	refresh(t, ctx, conn)
	got := rows(t, ctx, conn, "SELECT opportunity_id, outcome, stage, toString(closed_at) FROM deal_facts WHERE opportunity_id = 'hubspot:deal/"+dealID+"'")
	if len(got) != 1 || got[0] != "hubspot:deal/"+dealID+" won closedwon 2026-11-26 14:30:00" {
		t.Errorf("deal_facts after the webhook: %q", got)
	}
	after := rows(t, ctx, conn, "SELECT toString(count()) FROM opportunity_events WHERE opportunity_id = 'hubspot:deal/"+dealID+"'")
	if before[0] == "0" || after[0] == before[0] {
		t.Errorf("opportunity events: %s imported, %s after the webhook", before[0], after[0])
	}
}
