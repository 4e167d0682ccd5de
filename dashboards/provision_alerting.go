package dashboards

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alerting resources go through Grafana's alerting provisioning API
// (/api/v1/provisioning, docs/sources/shared/alerts/alerting_provisioning.md
// for Grafana 12). Contact points and rules are created without
// X-Disable-Provenance, so Grafana marks them provisioned ("api") and
// locks them in the UI: they are owned by this code, and later updates
// keep that provenance (Grafana refuses to change it from api to none).
// The notification policy tree is one per organisation and shared with
// whatever routes the organisation already has, so it is written with
// X-Disable-Provenance: true and stays editable in the UI; impact owns
// only its own route (matcher impact="true"), which it puts first and
// restores when it drifts.
const headerDisableProvenance = "X-Disable-Provenance"

// provisionAlerting creates or updates the contact points, the alert
// rules (in folder a.Folder, group impact-alerts, every 5 minutes) and
// impact's route in the notification policy tree.
func (g *grafana) provisionAlerting(a Alerting) ([]Result, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var results []Result
	contacts := []struct {
		uid, name string
		c         Contact
	}{{"impact-ciso", cisoReceiver, a.CISO}}
	for _, name := range slices.Sorted(maps.Keys(a.Departments)) {
		contacts = append(contacts, struct {
			uid, name string
			c         Contact
		}{departmentContactUID(name), departmentReceiver(name), a.Departments[name]})
	}
	for _, c := range contacts {
		rs, err := g.ensureContact(c.uid, c.name, c.c)
		results = append(results, rs...)
		if err != nil {
			return results, err
		}
	}
	for _, r := range AlertRules() {
		res, err := g.ensureAlertRule(r, a)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	res, err := g.ensureRuleGroupInterval(a.folder(), ruleGroup, ruleInterval)
	if err != nil {
		return results, err
	}
	results = append(results, res)
	res, err = g.ensurePolicyRoute(a)
	if err != nil {
		return results, err
	}
	return append(results, res), nil
}

func (a Alerting) folder() string {
	if a.Folder == "" {
		return FolderUID
	}
	return a.Folder
}

// integration is one integration of a contact point as the provisioning
// API takes it (EmbeddedContactPoint).
type integration struct {
	UID                   string         `json:"uid"`
	Name                  string         `json:"name"`
	Type                  string         `json:"type"`
	Settings              map[string]any `json:"settings"`
	DisableResolveMessage bool           `json:"disableResolveMessage"`
}

// integrations returns the contact's integrations: e-mail (all addresses
// in one message per alert group) and/or a webhook.
func (c Contact) integrations(uid, name string) []integration {
	var out []integration
	if len(c.Email) > 0 {
		out = append(out, integration{UID: uid + "-email", Name: name, Type: "email",
			Settings: map[string]any{"addresses": strings.Join(c.Email, ";"), "singleEmail": false}})
	}
	if c.Webhook != "" {
		out = append(out, integration{UID: uid + "-webhook", Name: name, Type: "webhook",
			Settings: map[string]any{"url": c.Webhook, "httpMethod": "POST"}})
	}
	return out
}

// ensureContact creates or updates the contact point name (one entry per
// integration, matched by uid).
func (g *grafana) ensureContact(uid, name string, c Contact) ([]Result, error) {
	var have []struct {
		integration
		Provenance string `json:"provenance"`
	}
	if _, err := g.call(http.MethodGet, "/api/v1/provisioning/contact-points", url.Values{"name": {name}}, nil, &have, nil); err != nil {
		return nil, fmt.Errorf("get contact point %q: %w", name, err)
	}
	var results []Result
	for _, want := range c.integrations(uid, name) {
		res := Result{Kind: "contact", UID: want.UID, Title: name}
		var found *integration
		for i := range have {
			if have[i].UID == want.UID {
				found = &have[i].integration
			}
		}
		switch {
		case found == nil:
			if _, err := g.call(http.MethodPost, "/api/v1/provisioning/contact-points", nil, want, nil, nil); err != nil {
				return results, fmt.Errorf("create contact point %s: %w", want.UID, err)
			}
			res.Action = Created
		case found.Name == want.Name && found.Type == want.Type && !found.DisableResolveMessage && subset(want.Settings, found.Settings):
			res.Action = Unchanged
		default:
			if _, err := g.call(http.MethodPut, "/api/v1/provisioning/contact-points/"+url.PathEscape(want.UID), nil, want, nil, nil); err != nil {
				return results, fmt.Errorf("update contact point %s: %w", want.UID, err)
			}
			res.Action = Updated
		}
		results = append(results, res)
	}
	return results, nil
}

// promDuration writes d as Prometheus durations are written (Grafana
// returns a rule's "for" so: 0s, 5m, 1h).
func promDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// model returns the rule as the provisioning API takes it
// (ProvisionedAlertRule): query A is the rule's SQL on the ClickHouse data
// source in table format (one alert instance per row, string columns as
// labels), B a threshold expression on A, the condition.
func (r AlertRule) model(a Alerting) (map[string]any, error) {
	sql, err := r.Query()
	if err != nil {
		return nil, err
	}
	ds := a.DatasourceUID
	if ds == "" {
		ds = Datasource{}.withDefaults().UID
	}
	labels := map[string]any{labelImpact: "true", labelAlert: r.Name}
	annotations := map[string]any{
		"summary":     r.Summary,
		"description": fmt.Sprintf("%s\nValue {{ $values.A.Value }} is above the threshold %g.", r.Title, r.Threshold(a.Thresholds)),
	}
	if r.Department {
		annotations["description"] = fmt.Sprintf("%s: {{ $labels.department }}\nValue {{ $values.A.Value }} is above the threshold %g.", r.Title, r.Threshold(a.Thresholds))
	}
	return map[string]any{
		"uid":          r.UID(),
		"title":        r.Title,
		"ruleGroup":    ruleGroup,
		"folderUID":    a.folder(),
		"orgID":        1,
		"condition":    "B",
		"noDataState":  "OK",
		"execErrState": "Error",
		"for":          promDuration(r.For),
		"isPaused":     false,
		"labels":       labels,
		"annotations":  annotations,
		"data": []any{
			map[string]any{
				"refId":             "A",
				"queryType":         "table",
				"relativeTimeRange": map[string]any{"from": int64(r.Range / time.Second), "to": 0},
				"datasourceUid":     ds,
				"model": map[string]any{
					"refId": "A", "editorType": "sql", "queryType": "table", "format": FormatTable, "rawSql": sql,
					"datasource": map[string]any{"type": PluginID, "uid": ds},
				},
			},
			map[string]any{
				"refId":             "B",
				"queryType":         "",
				"relativeTimeRange": map[string]any{"from": 0, "to": 0},
				"datasourceUid":     "__expr__",
				"model": map[string]any{
					"refId": "B", "type": "threshold", "expression": "A",
					"conditions": []any{map[string]any{"evaluator": map[string]any{"type": "gt", "params": []any{r.Threshold(a.Thresholds)}}}},
					"datasource": map[string]any{"type": "__expr__", "uid": "__expr__"},
				},
			},
		},
	}, nil
}

func (g *grafana) ensureAlertRule(r AlertRule, a Alerting) (Result, error) {
	res := Result{Kind: "alert-rule", UID: r.UID(), Title: r.Title}
	want, err := r.model(a)
	if err != nil {
		return res, err
	}
	var have map[string]any
	status, err := g.call(http.MethodGet, "/api/v1/provisioning/alert-rules/"+url.PathEscape(r.UID()), nil, nil, &have, nil, http.StatusNotFound)
	if err != nil {
		return res, fmt.Errorf("get alert rule %s: %w", r.UID(), err)
	}
	switch {
	case status == http.StatusNotFound:
		if _, err := g.call(http.MethodPost, "/api/v1/provisioning/alert-rules", nil, want, nil, nil); err != nil {
			return res, fmt.Errorf("create alert rule %s: %w", r.UID(), err)
		}
		res.Action = Created
	case subset(want, have):
		res.Action = Unchanged
	default:
		if _, err := g.call(http.MethodPut, "/api/v1/provisioning/alert-rules/"+url.PathEscape(r.UID()), nil, want, nil, nil); err != nil {
			return res, fmt.Errorf("update alert rule %s: %w", r.UID(), err)
		}
		res.Action = Updated
	}
	return res, nil
}

// ensureRuleGroupInterval sets the evaluation interval of the rule group
// (rules created one by one land in a group with Grafana's default
// interval). The group is sent back as Grafana returned it, interval
// changed, because the update replaces the group's rules with those sent.
func (g *grafana) ensureRuleGroupInterval(folder, group string, every time.Duration) (Result, error) {
	path := "/api/v1/provisioning/folder/" + url.PathEscape(folder) + "/rule-groups/" + url.PathEscape(group)
	res := Result{Kind: "rule-group", UID: folder + "/" + group, Title: group}
	var have map[string]any
	if _, err := g.call(http.MethodGet, path, nil, nil, &have, nil); err != nil {
		return res, fmt.Errorf("get rule group %s: %w", res.UID, err)
	}
	want := float64(every / time.Second)
	if iv, _ := have["interval"].(float64); iv == want {
		res.Action = Unchanged
		return res, nil
	}
	have["interval"] = want
	if _, err := g.call(http.MethodPut, path, nil, have, nil, nil); err != nil {
		return res, fmt.Errorf("set interval of rule group %s: %w", res.UID, err)
	}
	res.Action = Updated
	return res, nil
}

// route is impact's route in the notification policy tree: every impact
// alert (label impact="true") goes to the CISO, unless it carries the
// department label of a department with its own contact point.
func (a Alerting) route() map[string]any {
	var children []any
	for _, name := range slices.Sorted(maps.Keys(a.Departments)) {
		children = append(children, map[string]any{
			"receiver":        departmentReceiver(name),
			"object_matchers": []any{[]any{labelDept, "=", name}},
		})
	}
	r := map[string]any{
		"receiver":        cisoReceiver,
		"object_matchers": []any{[]any{labelImpact, "=", "true"}},
		"group_by":        []any{"alertname", labelDept},
	}
	if len(children) > 0 {
		r["routes"] = children
	}
	return r
}

// isImpactRoute reports whether a route of the tree is impact's: its
// matchers are exactly impact="true".
func isImpactRoute(r any) bool {
	m, ok := r.(map[string]any)
	if !ok {
		return false
	}
	return sameJSON(m["object_matchers"], []any{[]any{labelImpact, "=", "true"}})
}

func (g *grafana) ensurePolicyRoute(a Alerting) (Result, error) {
	res := Result{Kind: "policies", UID: "impact", Title: "notification policy route impact=\"true\""}
	var tree map[string]any
	if _, err := g.call(http.MethodGet, "/api/v1/provisioning/policies", nil, nil, &tree, nil); err != nil {
		return res, fmt.Errorf("get notification policies: %w", err)
	}
	want := a.route()
	routes, _ := tree["routes"].([]any)
	var kept []any
	found := false
	for _, r := range routes {
		if isImpactRoute(r) {
			found = true
			continue
		}
		kept = append(kept, r)
	}
	if len(routes) > 0 && len(kept) == len(routes)-1 && isImpactRoute(routes[0]) &&
		subset(want, routes[0]) && routeChildrenMatch(want, routes[0].(map[string]any)) {
		res.Action = Unchanged
		return res, nil
	}
	tree["routes"] = append([]any{want}, kept...)
	delete(tree, "provenance")
	if _, err := g.call(http.MethodPut, "/api/v1/provisioning/policies", nil, tree, nil,
		map[string]string{headerDisableProvenance: "true"}); err != nil {
		return res, fmt.Errorf("set notification policies: %w", err)
	}
	res.Action = Created
	if found {
		res.Action = Updated
	}
	return res, nil
}

// routeChildrenMatch reports whether the stored route has exactly the
// wanted children (subset alone would accept extra department routes).
func routeChildrenMatch(want, have map[string]any) bool {
	w, _ := want["routes"].([]any)
	h, _ := have["routes"].([]any)
	return len(w) == len(h)
}

// subset reports whether every field of want is in have with the same
// value (JSON-wise; maps recursively, lists element by element and of
// the same length). Grafana adds fields of its own to what it stores.
func subset(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !subset(wv, h[k]) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return sameJSON(want, have)
	}
}
