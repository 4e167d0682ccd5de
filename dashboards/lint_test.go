package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintCommittedJSON lints the JSON Grafana actually loads.
func TestLintCommittedJSON(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(committedDir, "dashboards", "json", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(All()) {
		t.Fatalf("found %d committed dashboards, want %d", len(paths), len(All()))
	}
	uids := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, prob := range Lint(b) {
			t.Errorf("%s: %s", filepath.Base(p), prob)
		}
		var d struct{ UID string }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("uid %s in both %s and %s", d.UID, other, p)
		}
		uids[d.UID] = p
		if filepath.Base(p) != d.UID+".json" {
			t.Errorf("%s holds uid %s", p, d.UID)
		}
	}
	// The uids are an interface: links, bookmarks and provisioning
	// overwrite-by-uid depend on them never changing.
	for _, uid := range []string{UIDCISO, UIDSales, UIDDepartment, UIDDelivery, UIDTrust, UIDPipeline} {
		if _, ok := uids[uid]; !ok {
			t.Errorf("stable uid %s missing", uid)
		}
	}
}

// TestLintCatches proves each rule fires, so a clean lint means something.
func TestLintCatches(t *testing.T) {
	good, err := pipeline().JSON()
	if err != nil {
		t.Fatal(err)
	}
	if probs := Lint(good); len(probs) != 0 {
		t.Fatalf("clean dashboard has problems: %v", probs)
	}
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"missing title", func(m map[string]any) { panel(m)["title"] = "" }, "no title"},
		{"missing description", func(m map[string]any) { panel(m)["description"] = "x" }, `does not state "Method:"`},
		{"causal wording", func(m map[string]any) {
			panel(m)["description"] = "Reviews drove wins. Method: a n: b Evidence: c"
		}, "causal wording"},
		{"missing unit", func(m map[string]any) {
			panel(m)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"] = ""
		}, "no unit"},
		{"fixed datasource", func(m map[string]any) {
			panel(m)["datasource"] = map[string]any{"type": PluginID, "uid": "P1234"}
		}, "datasource is not"},
		{"timeInterval macro", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT $__timeInterval(t) AS time, count() FROM x GROUP BY time"
		}, "macro $__timeInterval"},
		{"interval_s macro", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT toStartOfInterval(t, INTERVAL $__interval_s second) AS time FROM x"
		}, "macro $__interval_s"},
		{"toStartOfWeek", func(m map[string]any) { target(m)["rawSql"] = "SELECT toStartOfWeek(t) FROM x" }, "toStartOfWeek"},
		{"window function", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT sum(x) OVER (PARTITION BY y) FROM t"
		}, "window functions"},
		{"CTE", func(m map[string]any) { target(m)["rawSql"] = "WITH a AS (SELECT 1) SELECT * FROM a" }, "WITH name AS"},
		{"wrong format", func(m map[string]any) { target(m)["format"] = 1 }, "format 1"},
		// Template variables: only decodeURLComponent('${x:percentencode}').
		{"variable pasted in quotes", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE department = '${department}'"
		}, "${department} reaches the SQL unescaped"},
		{"bare variable", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE team = '$team'"
		}, "$team reaches the SQL unescaped"},
		{"legacy brackets", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE team = '[[team]]'"
		}, "[[team]] reaches the SQL unescaped"},
		{"sqlstring format", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE team = ${team:sqlstring}"
		}, "${team:sqlstring} reaches the SQL unescaped"},
		{"singlequote format", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE team IN (${team:singlequote})"
		}, "${team:singlequote} reaches the SQL unescaped"},
		{"percentencode not decoded", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE team = '${team:percentencode}'"
		}, "${team:percentencode} reaches the SQL unescaped"},
		{"grafana global variable", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT '${__user.login}' AS who"
		}, "${__user.login} reaches the SQL unescaped"},
		{"conditionalAll macro", func(m map[string]any) {
			target(m)["rawSql"] = "SELECT count() FROM findings WHERE $__conditionalAll(team IN (${team:singlequote}), $team)"
		}, "macro $__conditionalAll"},
		{"variable query unescaped", func(m map[string]any) {
			addVariable(m, map[string]any{"type": "query", "name": "team", "datasource": map[string]any{"uid": DatasourceVar},
				"query": "SELECT DISTINCT team FROM findings WHERE department = '$department'"})
		}, "$department reaches the SQL unescaped"},
		{"multi-value variable", func(m map[string]any) {
			addVariable(m, map[string]any{"type": "query", "name": "team", "multi": true, "datasource": map[string]any{"uid": DatasourceVar},
				"query": "SELECT DISTINCT team FROM findings"})
		}, "multi-value variables"},
		{"ad hoc filters", func(m map[string]any) {
			addVariable(m, map[string]any{"type": "adhoc", "name": "filters", "datasource": map[string]any{"uid": DatasourceVar}})
		}, "ad hoc filters"},
		{"unstable uid", func(m map[string]any) { m["uid"] = "abc123" }, "not a stable"},
		{"no datasource variable", func(m map[string]any) {
			m["templating"] = map[string]any{"list": []any{}}
		}, "no datasource variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			tt.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			probs := Lint(b)
			if !strings.Contains(strings.Join(probs, "\n"), tt.want) {
				t.Errorf("problems %q do not mention %q", probs, tt.want)
			}
		})
	}
}

func addVariable(m map[string]any, v map[string]any) {
	tp := m["templating"].(map[string]any)
	tp["list"] = append(tp["list"].([]any), v)
}

// panel returns the first panel (a time series in the pipeline dashboard).
func panel(m map[string]any) map[string]any { return m["panels"].([]any)[0].(map[string]any) }
func target(m map[string]any) map[string]any {
	return panel(m)["targets"].([]any)[0].(map[string]any)
}

// TestPanelSQLLint checks the source SQL files too (the JSON embeds them).
func TestPanelSQLLint(t *testing.T) {
	for _, d := range All() {
		for _, p := range d.Panels {
			sql, err := p.Query()
			if err != nil {
				t.Fatal(err)
			}
			for _, prob := range LintSQL(sql) {
				t.Errorf("%s %s: %s", d.UID, p.SQL, prob)
			}
			if p.Kind == TimeSeries && (len(p.Columns) == 0 || p.Columns[0] != "time") {
				t.Errorf("%s %s: a time series must return time first", d.UID, p.SQL)
			}
		}
	}
}

// TestLintFiguresCatches proves each figure rule fires on a business
// dashboard (the CISO one): a rate or difference without its n, a pooled
// estimate without the adjusted one, a pooled impact_stats row without its
// adjusted row; and that operational panels are exempt.
func TestLintFiguresCatches(t *testing.T) {
	good, err := ciso().JSON()
	if err != nil {
		t.Fatal(err)
	}
	if probs := Lint(good); len(probs) != 0 {
		t.Fatalf("clean dashboard has problems: %v", probs)
	}
	tests := []struct {
		name, sql, unit, want string
	}{
		{"rate without n", "SELECT avg(won) AS win_rate FROM deal_facts", unitUSD, "shows a rate or difference (win_rate) without its n"},
		{"difference without n", "SELECT 0.1 AS adjusted_difference, 0.2 AS ci_low", unitUSD, "shows a rate or difference (adjusted_difference) without its n"},
		{"percent panel without n", "SELECT avg(won) AS x FROM deal_facts", unitPercent, "shows a rate or difference (the percentunit values) without its n"},
		{"count is not an n", "SELECT avg(won) AS win_rate, count() AS deals FROM deal_facts", unitUSD, "without its n"},
		{"pooled without adjusted", "SELECT 0.2 AS pooled_difference, 100 AS n_deals", unitUSD, "shows a pooled estimate (pooled_difference) without the adjusted one"},
		{"pooled row without its adjusted row", "SELECT estimate AS x, n FROM impact_stats WHERE metric = 'win_rate_diff_fast_minus_slow' AND dimension_value = 'pooled'", unitUSD,
			"reads the pooled win_rate_diff_fast_minus_slow without its adjusted (stratified) row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			target(m)["rawSql"] = tt.sql
			p := panel(m)
			p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"] = tt.unit
			p["fieldConfig"].(map[string]any)["overrides"] = []any{}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if probs := Lint(b); !strings.Contains(strings.Join(probs, "\n"), tt.want) {
				t.Errorf("problems %q do not mention %q", probs, tt.want)
			}
		})
	}
	// The same SQL on an operational (pipeline health) panel is a
	// measurement, not an estimate: no figure rule applies.
	pipe, err := pipeline().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(pipe, &m); err != nil {
		t.Fatal(err)
	}
	target(m)["rawSql"] = "SELECT now() AS time, 0.2 AS pooled_reject_rate"
	b, _ := json.Marshal(m)
	if probs := Lint(b); len(probs) != 0 {
		t.Errorf("operational panel: %v", probs)
	}
}
