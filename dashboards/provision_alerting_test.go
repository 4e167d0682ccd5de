package dashboards

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/config"
)

// fakeAlerting holds what Grafana's alerting provisioning API stores, with
// each resource's provenance.
type fakeAlerting struct {
	contacts map[string]map[string]any // uid -> contact point as returned
	rules    map[string]map[string]any // uid -> rule as returned
	groups   map[string]int            // folder/group -> interval seconds
	tree     map[string]any            // the notification policy tree
}

func newFakeAlerting() *fakeAlerting {
	return &fakeAlerting{
		contacts: map[string]map[string]any{}, rules: map[string]map[string]any{}, groups: map[string]int{},
		// A fresh Grafana's tree: the default e-mail receiver, no routes.
		tree: map[string]any{"receiver": "grafana-default-email", "group_by": []any{"grafana_folder", "alertname"}, "provenance": ""},
	}
}

// provenance is what a write sets: "api", or none with X-Disable-Provenance.
func provenance(r *http.Request) string {
	if r.Header.Get(headerDisableProvenance) == "true" {
		return ""
	}
	return "api"
}

// provenanceConflict reproduces Grafana's rule (pkg/services/ngalert/
// provisioning): a stored provenance other than none cannot change.
func provenanceConflict(w http.ResponseWriter, stored, requested string) bool {
	if stored != requested && stored != "" {
		reply(w, http.StatusBadRequest, map[string]any{"message": fmt.Sprintf("cannot change provenance from '%s' to '%s'", stored, requested)})
		return true
	}
	return false
}

var durationRe = regexp.MustCompile(`^(\d+[ywdhms]|\d+ms)+$`)

// alertingAPI implements the documented alerting provisioning endpoints
// impact uses (alerting_provisioning.md): contact points, alert rules,
// rule groups and the policy tree, with their validation and provenance.
func (f *fakeGrafana) alertingAPI(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	a := f.alerting
	rest := strings.TrimPrefix(path, "/api/v1/provisioning/")
	switch {
	case r.Method == http.MethodGet && rest == "contact-points":
		name := r.URL.Query().Get("name")
		out := []map[string]any{}
		for _, uid := range slices.Sorted(maps.Keys(a.contacts)) {
			if c := a.contacts[uid]; name == "" || c["name"] == name {
				out = append(out, c)
			}
		}
		reply(w, http.StatusOK, out)
	case r.Method == http.MethodPost && rest == "contact-points":
		if !f.checkContact(w, body) {
			return
		}
		uid, _ := body["uid"].(string)
		if _, exists := a.contacts[uid]; exists {
			reply(w, http.StatusBadRequest, map[string]any{"message": "contact point with uid " + uid + " already exists"})
			return
		}
		a.contacts[uid] = storedContact(body, provenance(r))
		reply(w, http.StatusAccepted, a.contacts[uid])
	case r.Method == http.MethodPut && strings.HasPrefix(rest, "contact-points/"):
		uid, _ := url.PathUnescape(strings.TrimPrefix(rest, "contact-points/"))
		old, ok := a.contacts[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "contact point not found"})
			return
		}
		if !f.checkContact(w, body) || provenanceConflict(w, old["provenance"].(string), provenance(r)) {
			return
		}
		a.contacts[uid] = storedContact(body, provenance(r))
		reply(w, http.StatusAccepted, map[string]any{})

	case r.Method == http.MethodGet && strings.HasPrefix(rest, "alert-rules/"):
		rule, ok := a.rules[strings.TrimPrefix(rest, "alert-rules/")]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "alert rule not found"})
			return
		}
		reply(w, http.StatusOK, rule)
	case r.Method == http.MethodPost && rest == "alert-rules":
		if !f.checkRule(w, body) {
			return
		}
		uid := body["uid"].(string)
		if _, exists := a.rules[uid]; exists {
			reply(w, http.StatusBadRequest, map[string]any{"message": "a rule with uid " + uid + " already exists"})
			return
		}
		a.rules[uid] = f.storedRule(body, provenance(r))
		key := body["folderUID"].(string) + "/" + body["ruleGroup"].(string)
		if _, ok := a.groups[key]; !ok {
			a.groups[key] = 60 // Grafana's default evaluation interval
		}
		reply(w, http.StatusCreated, a.rules[uid])
	case r.Method == http.MethodPut && strings.HasPrefix(rest, "alert-rules/"):
		uid := strings.TrimPrefix(rest, "alert-rules/")
		old, ok := a.rules[uid]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "alert rule not found"})
			return
		}
		if !f.checkRule(w, body) || provenanceConflict(w, old["provenance"].(string), provenance(r)) {
			return
		}
		if body["uid"] != uid {
			f.violate("PUT alert-rules/%s: body uid %v", uid, body["uid"])
		}
		a.rules[uid] = f.storedRule(body, provenance(r))
		a.rules[uid]["id"] = old["id"]
		reply(w, http.StatusOK, a.rules[uid])

	case strings.HasPrefix(rest, "folder/"):
		parts := strings.Split(strings.TrimPrefix(rest, "folder/"), "/")
		if len(parts) != 3 || parts[1] != "rule-groups" {
			f.violate("undocumented request %s %s", r.Method, path)
			reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
			return
		}
		key := parts[0] + "/" + parts[2]
		interval, ok := a.groups[key]
		if !ok {
			reply(w, http.StatusNotFound, map[string]any{"message": "rule group not found"})
			return
		}
		var rules []any
		for _, uid := range slices.Sorted(maps.Keys(a.rules)) {
			if rl := a.rules[uid]; rl["folderUID"] == parts[0] && rl["ruleGroup"] == parts[2] {
				rules = append(rules, rl)
			}
		}
		switch r.Method {
		case http.MethodGet:
			reply(w, http.StatusOK, map[string]any{"title": parts[2], "folderUid": parts[0], "interval": interval, "rules": rules})
		case http.MethodPut:
			iv, _ := body["interval"].(float64)
			if iv <= 0 || int(iv)%10 != 0 {
				f.violate("PUT rule group: interval %v is not a positive multiple of 10 seconds", body["interval"])
			}
			sent, _ := body["rules"].([]any)
			if len(sent) != len(rules) {
				f.violate("PUT rule group %s sends %d rules of %d: the others would be deleted", key, len(sent), len(rules))
			}
			for _, rl := range sent {
				m := rl.(map[string]any)
				if provenanceConflict(w, a.rules[m["uid"].(string)]["provenance"].(string), provenance(r)) {
					return
				}
			}
			a.groups[key] = int(iv)
			reply(w, http.StatusOK, body)
		default:
			f.violate("undocumented request %s %s", r.Method, path)
		}

	case r.Method == http.MethodGet && rest == "policies":
		reply(w, http.StatusOK, a.tree)
	case r.Method == http.MethodPut && rest == "policies":
		if provenanceConflict(w, a.tree["provenance"].(string), provenance(r)) {
			return
		}
		if msg := f.checkRoute(body, true); msg != "" {
			reply(w, http.StatusBadRequest, map[string]any{"message": msg})
			return
		}
		if _, has := body["provenance"]; has {
			f.violate("PUT policies: provenance is set by the server, not sent")
		}
		body["provenance"] = provenance(r)
		a.tree = body
		reply(w, http.StatusAccepted, map[string]any{"message": "policies updated"})
	default:
		f.violate("undocumented request %s %s", r.Method, path)
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

func storedContact(body map[string]any, prov string) map[string]any {
	out := map[string]any{"disableResolveMessage": false}
	for k, v := range body {
		out[k] = v
	}
	out["provenance"] = prov
	return out
}

// checkContact validates an EmbeddedContactPoint: type and settings are
// required; e-mail needs addresses, a webhook its url.
func (f *fakeGrafana) checkContact(w http.ResponseWriter, body map[string]any) bool {
	settings, _ := body["settings"].(map[string]any)
	typ, _ := body["type"].(string)
	msg := ""
	switch {
	case typ == "" || settings == nil:
		msg = "type and settings are required"
	case typ == "email" && settings["addresses"] == nil:
		msg = "could not find addresses in settings"
	case typ == "webhook" && settings["url"] == nil:
		msg = "required field 'url' is not specified"
	case typ != "email" && typ != "webhook":
		msg = "unknown type " + typ
	}
	if name, _ := body["name"].(string); name == "" {
		msg = "name is required"
	}
	if msg != "" {
		f.violate("contact point %v: %s", body["uid"], msg)
		reply(w, http.StatusBadRequest, map[string]any{"msg": msg})
		return false
	}
	return true
}

// checkRule validates a ProvisionedAlertRule: the documented required
// fields, a folder that exists, queries on data sources that exist (or
// the expression engine), a condition naming one of them, valid states
// and durations.
func (f *fakeGrafana) checkRule(w http.ResponseWriter, body map[string]any) bool {
	var problems []string
	for _, k := range []string{"title", "ruleGroup", "folderUID", "condition", "noDataState", "execErrState", "for"} {
		if s, _ := body[k].(string); s == "" {
			problems = append(problems, k+" is required")
		}
	}
	if _, ok := body["orgID"].(float64); !ok {
		problems = append(problems, "orgID is required")
	}
	if uid, _ := body["uid"].(string); uid == "" || len(uid) > 40 {
		problems = append(problems, "uid must be set and at most 40 characters")
	}
	if _, ok := f.folders[fmt.Sprint(body["folderUID"])]; !ok {
		problems = append(problems, "folder does not exist")
	}
	if d, _ := body["for"].(string); !durationRe.MatchString(d) {
		problems = append(problems, "for is not a duration: "+d)
	}
	switch body["noDataState"] {
	case "Alerting", "NoData", "OK", "KeepLast":
	default:
		problems = append(problems, "noDataState is invalid")
	}
	switch body["execErrState"] {
	case "Alerting", "Error", "OK", "KeepLast":
	default:
		problems = append(problems, "execErrState is invalid")
	}
	data, _ := body["data"].([]any)
	refs := map[string]bool{}
	for _, q := range data {
		m, _ := q.(map[string]any)
		ref, _ := m["refId"].(string)
		refs[ref] = true
		model, _ := m["model"].(map[string]any)
		ds, _ := m["datasourceUid"].(string)
		if _, ok := m["relativeTimeRange"].(map[string]any); !ok {
			problems = append(problems, "query "+ref+": relativeTimeRange is required")
		}
		switch {
		case ds == "__expr__":
			if model["type"] != "threshold" || model["expression"] == nil {
				problems = append(problems, "expression "+ref+": only threshold expressions on a query are used")
			}
			conds, _ := model["conditions"].([]any)
			if len(conds) != 1 {
				problems = append(problems, "expression "+ref+": one condition expected")
			} else if ev, _ := conds[0].(map[string]any)["evaluator"].(map[string]any); ev["type"] != "gt" || len(ev["params"].([]any)) != 1 {
				problems = append(problems, "expression "+ref+": evaluator must be gt with one parameter")
			}
		case f.ds[ds] != nil:
			if model["rawSql"] == nil || model["format"] != float64(FormatTable) {
				problems = append(problems, "query "+ref+": table-format raw SQL expected (alerting on tabular data)")
			}
			if dsm, _ := model["datasource"].(map[string]any); dsm["uid"] != ds {
				problems = append(problems, "query "+ref+": model datasource differs from datasourceUid")
			}
		default:
			problems = append(problems, "query "+ref+": data source "+ds+" does not exist")
		}
	}
	if len(data) == 0 || !refs[fmt.Sprint(body["condition"])] {
		problems = append(problems, "condition must name a query")
	}
	if len(problems) > 0 {
		f.violate("alert rule %v: %s", body["uid"], strings.Join(problems, "; "))
		reply(w, http.StatusBadRequest, map[string]any{"msg": strings.Join(problems, "; ")})
		return false
	}
	return true
}

// storedRule is the rule as Grafana returns it: with its id, provenance,
// update time and the defaults it adds to query models.
func (f *fakeGrafana) storedRule(body map[string]any, prov string) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	for _, q := range out["data"].([]any) {
		m := q.(map[string]any)["model"].(map[string]any)
		m["intervalMs"], m["maxDataPoints"] = 1000, 43200
	}
	out["id"] = f.nextID
	f.nextID++
	out["provenance"] = prov
	out["updated"] = "2026-07-01T00:00:00Z"
	out["notification_settings"] = nil
	return out
}

// checkRoute validates a Route: receivers that exist, object matchers of
// [name, op, value].
func (f *fakeGrafana) checkRoute(route map[string]any, root bool) string {
	recv, _ := route["receiver"].(string)
	known := recv == "grafana-default-email"
	for _, c := range f.alerting.contacts {
		known = known || c["name"] == recv
	}
	if root && recv == "" {
		return "the root route needs a receiver"
	}
	if recv != "" && !known {
		return "receiver '" + recv + "' does not exist"
	}
	if ms, ok := route["object_matchers"]; ok {
		list, _ := ms.([]any)
		for _, m := range list {
			parts, _ := m.([]any)
			if len(parts) != 3 {
				return fmt.Sprintf("matcher %v is not [name, op, value]", m)
			}
			switch parts[1] {
			case "=", "!=", "=~", "!~":
			default:
				return fmt.Sprintf("matcher %v: unknown operator", m)
			}
		}
	}
	children, _ := route["routes"].([]any)
	for _, c := range children {
		if msg := f.checkRoute(c.(map[string]any), false); msg != "" {
			return msg
		}
	}
	return ""
}

func testAlerting(cost float64) *Alerting {
	return &Alerting{
		CISO: Contact{Email: []string{"ciso@example.com"}},
		Departments: map[string]Contact{
			"Engineering": {Email: []string{"eng-head@example.com", "eng-sec@example.com"}, Webhook: "https://hooks.example.com/eng"},
			"R&D's lab":   {Email: []string{"rd@example.com"}},
		},
		Thresholds: Thresholds{CostOfRiskUSD: &cost},
	}
}

func TestProvisionAlerting(t *testing.T) {
	fake, srv := newFakeGrafana(t, "Bearer "+testToken)
	g := config.Grafana{URL: srv.URL, Token: testToken}
	ctx := context.Background()
	// The organisation already routes some alerts of its own.
	theirs := map[string]any{"receiver": "grafana-default-email", "object_matchers": []any{[]any{"team", "=", "db"}}}
	fake.alerting.tree["routes"] = []any{theirs}
	opts := ProvisionOptions{Datasource: Datasource{Password: testDSSecret}, Alerting: testAlerting(250000)}

	if _, err := Provision(ctx, g, opts); err != nil {
		t.Fatal(err)
	}
	var writes []string
	for _, w := range fake.writes() {
		if strings.Contains(w, "/api/v1/provisioning/") {
			writes = append(writes, w)
		}
	}
	want := []string{
		"POST /api/v1/provisioning/contact-points", // CISO e-mail
		"POST /api/v1/provisioning/contact-points", // Engineering e-mail
		"POST /api/v1/provisioning/contact-points", // Engineering webhook
		"POST /api/v1/provisioning/contact-points", // R&D's lab e-mail
	}
	for range AlertRules() {
		want = append(want, "POST /api/v1/provisioning/alert-rules")
	}
	want = append(want, "PUT /api/v1/provisioning/folder/impact/rule-groups/impact-alerts", "PUT /api/v1/provisioning/policies")
	if strings.Join(writes, "\n") != strings.Join(want, "\n") {
		t.Errorf("first run writes:\n%s\nwant:\n%s", strings.Join(writes, "\n"), strings.Join(want, "\n"))
	}

	// Rules: provisioned (locked in the UI), on the ClickHouse data source,
	// with the configured threshold; contact points too.
	for _, r := range AlertRules() {
		st := fake.alerting.rules[r.UID()]
		if st == nil {
			t.Fatalf("rule %s not stored", r.UID())
		}
		if st["provenance"] != "api" {
			t.Errorf("rule %s provenance %q", r.UID(), st["provenance"])
		}
		data := st["data"].([]any)
		sql, _ := r.Query()
		if q := data[0].(map[string]any); q["datasourceUid"] != "impact-clickhouse" || q["model"].(map[string]any)["rawSql"] != sql {
			t.Errorf("rule %s query %v", r.UID(), q)
		}
		params := data[1].(map[string]any)["model"].(map[string]any)["conditions"].([]any)[0].(map[string]any)["evaluator"].(map[string]any)["params"].([]any)
		if params[0] != r.Threshold(opts.Alerting.Thresholds) {
			t.Errorf("rule %s threshold %v", r.UID(), params[0])
		}
		if labels := st["labels"].(map[string]any); labels[labelImpact] != "true" || labels[labelAlert] != r.Name {
			t.Errorf("rule %s labels %v", r.UID(), labels)
		}
	}
	if th := AlertRules()[2].Threshold(opts.Alerting.Thresholds); th != 250000 {
		t.Errorf("cost of risk threshold %v, want the configured 250000", th)
	}
	if fake.alerting.groups["impact/impact-alerts"] != 300 {
		t.Errorf("rule group interval %d s, want 300", fake.alerting.groups["impact/impact-alerts"])
	}
	for uid, c := range fake.alerting.contacts {
		if c["provenance"] != "api" {
			t.Errorf("contact point %s provenance %q", uid, c["provenance"])
		}
	}
	if got := fake.alerting.contacts["impact-ciso-email"]["settings"].(map[string]any)["addresses"]; got != "ciso@example.com" {
		t.Errorf("CISO addresses %v", got)
	}
	// Policies: impact's route first, the organisation's kept, the tree
	// left editable in the UI; department alerts route by label.
	routes := fake.alerting.tree["routes"].([]any)
	if len(routes) != 2 || !isImpactRoute(routes[0]) || !sameJSON(routes[1], theirs) || fake.alerting.tree["provenance"] != "" {
		t.Fatalf("policy tree %v", fake.alerting.tree)
	}
	ours := routes[0].(map[string]any)
	if ours["receiver"] != "impact: CISO" || len(ours["routes"].([]any)) != 2 ||
		!sameJSON(ours["routes"].([]any)[1], map[string]any{"receiver": "impact: R&D's lab", "object_matchers": []any{[]any{"department", "=", "R&D's lab"}}}) {
		t.Errorf("impact route %v", ours)
	}

	// Second run: no writes at all.
	fake.log = nil
	res, err := Provision(ctx, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != Unchanged {
			t.Errorf("second run: %s %s %s", r.Kind, r.UID, r.Action)
		}
	}
	if w := fake.writes(); len(w) != 0 {
		t.Errorf("second run wrote: %v", w)
	}

	// A new threshold changes that rule only; a tree reordered in the UI
	// gets impact's route back in front, theirs kept.
	fake.alerting.tree["routes"] = []any{theirs, routes[0]}
	opts.Alerting = testAlerting(500000)
	fake.log = nil
	if _, err := Provision(ctx, g, opts); err != nil {
		t.Fatal(err)
	}
	want = []string{"PUT /api/v1/provisioning/alert-rules/impact-cost-of-risk", "PUT /api/v1/provisioning/policies"}
	if got := fake.writes(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("drift writes %v, want %v", got, want)
	}
	if routes := fake.alerting.tree["routes"].([]any); len(routes) != 2 || !isImpactRoute(routes[0]) {
		t.Errorf("tree not repaired: %v", routes)
	}

	// Another tool provisioned the tree (provenance api): Grafana refuses
	// to make it editable again, and provision says so.
	fake.alerting.tree["provenance"] = "api"
	fake.alerting.tree["routes"] = []any{theirs}
	if _, err := Provision(ctx, g, opts); err == nil || !strings.Contains(err.Error(), "cannot change provenance") {
		t.Errorf("tree provisioned elsewhere: %v", err)
	}
}

func TestAlertingConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Alerting
		want string
	}{
		{"no ciso", Alerting{}, "ciso"},
		{"two addresses in one", Alerting{CISO: Contact{Email: []string{"a@x;b@x"}}}, "one e-mail"},
		{"bad webhook", Alerting{CISO: Contact{Webhook: "ftp://x"}}, "http(s)"},
		{"empty department contact", Alerting{CISO: Contact{Email: []string{"a@x"}}, Departments: map[string]Contact{"Sales": {}}}, "Sales"},
	} {
		if err := tc.a.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	if err := testAlerting(1).Validate(); err != nil {
		t.Errorf("valid configuration: %v", err)
	}
}

// TestAlertRulesLint holds every alert query to the panel rules (macros
// safe on 18.16, no construct 18.16 lacks, no variables) and checks that
// each sql/alerts file belongs to a rule and each rule has a unique uid
// Grafana accepts.
func TestAlertRulesLint(t *testing.T) {
	used := map[string]bool{}
	uids := map[string]bool{}
	for _, r := range AlertRules() {
		sql, err := r.Query()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range LintSQL(sql) {
			t.Errorf("%s: %s", r.Name, p)
		}
		if strings.Contains(sql, "${") || strings.Contains(sql, "[[") {
			t.Errorf("%s: alert queries take no template variables", r.Name)
		}
		// The plugin's macro parser must see each macro as intended.
		if _, err := Expand(sql, Request{From: time.Unix(1e9, 0), To: time.Unix(1e9+3600, 0), Interval: time.Minute}); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		used[r.SQL] = true
		if uids[r.UID()] || len(r.UID()) > 40 {
			t.Errorf("%s: uid %q duplicate or too long", r.Name, r.UID())
		}
		uids[r.UID()] = true
		if r.Summary == "" || r.Title == "" || r.Range <= 0 {
			t.Errorf("%s: title, summary and range are required", r.Name)
		}
	}
	entries, err := sqlFS.ReadDir("sql/alerts")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !used["alerts/"+e.Name()] {
			t.Errorf("sql/alerts/%s belongs to no alert rule", e.Name())
		}
	}
}

// TestAlertingExample keeps deploy/alerting.example.yaml loadable and its
// thresholds equal to the rules' defaults.
func TestAlertingExample(t *testing.T) {
	a, err := LoadAlerting("../deploy/alerting.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range AlertRules() {
		v := r.Configured(a.Thresholds)
		if v == nil {
			t.Errorf("the example leaves out %s's threshold", r.Name)
			continue
		}
		if *v != r.Default {
			t.Errorf("the example's %s threshold %v is not the default %v", r.Name, *v, r.Default)
		}
	}
	if len(a.Departments) == 0 || a.CISO.empty() {
		t.Errorf("example has no contacts")
	}
}
