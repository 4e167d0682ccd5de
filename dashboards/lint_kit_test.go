package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// SafeMacros are the plugin macros whose expansions (toDateTime(N) and
// comparisons) run on ClickHouse 18.16 and current releases. The others
// expand to toStartOfInterval, DateTime64 or fromUnixTimestamp64Milli,
// which 18.16 lacks.
var SafeMacros = []string{"timeFilter", "fromTime", "toTime"}

// forbiddenSQL are constructs the design brief bans because ClickHouse 18.16
// lacks them or gets them wrong.
var forbiddenSQL = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`(?i)\btoStartOfInterval\b`), "toStartOfInterval is missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\btoStartOfWeek\b`), "toStartOfWeek: use toMonday"},
	{regexp.MustCompile(`(?i)\bDateTime64\b`), "DateTime64 is missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bfromUnixTimestamp64`), "fromUnixTimestamp64* is missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bJSONExtract`), "JSONExtract* is missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bLowCardinality\b`), "LowCardinality is missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\brankCorr\b`), "rankCorr is missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bparseDateTimeBestEffortOrNull\b`), "parseDateTimeBestEffortOrNull gives wrong results on 18.16"},
	{regexp.MustCompile(`(?i)\bOVER\s*\(`), "window functions are missing on ClickHouse 18.16"},
	{regexp.MustCompile(`(?i)\bWITH\s+\w+\s+AS\s*\(`), "WITH name AS (SELECT ...) is missing on ClickHouse 18.16"},
}

// safeVariable is the one form in which a template variable may reach
// panel SQL. Grafana's percentencode format (encodeURIComponent, plus
// !'()* encoded) leaves only A-Z a-z 0-9 - _ . ~ and %XX, so the quoted
// literal holds the value whatever it is, and decodeURLComponent (in
// ClickHouse 18.16 and current releases) gives it back. The obvious
// alternatives are unsafe on ClickHouse: the plugin pastes a plain
// ${name} as is, and Grafana's sqlstring and singlequote formats leave
// backslashes alone, which ClickHouse string literals treat as escapes
// (a value ending in \ swallows the closing quote).
var safeVariable = regexp.MustCompile(`decodeURLComponent\('\$\{(\w+):percentencode\}'\)`)

var (
	// Output columns of panel SQL (every alias, subqueries included).
	outputAlias = regexp.MustCompile(`(?i)\bAS\s+([a-z_][a-z0-9_]*)`)
	// A column showing a rate or a difference of two figures.
	rateAlias = regexp.MustCompile(`(?i)(^|_)(rate|share|diff|difference|compliance|change|did)(_|$)`)
	// The sample size behind a figure: n or n_<what>.
	nAlias = regexp.MustCompile(`(?i)^n(_[a-z0-9_]+)?$`)
	// A pooled estimate, and the adjusted one that must stand beside it.
	pooledAlias   = regexp.MustCompile(`(?i)(^|_)pooled(_|$)`)
	adjustedAlias = regexp.MustCompile(`(?i)(^|_)adjusted(_|$)`)
	macroRef      = regexp.MustCompile(`\$__(\w+)`)
	// Causal wording the statistics rules forbid: figures are associations.
	causalWords = regexp.MustCompile(`(?i)\b(drove|drives|driven by|caused|causes|because of|leads to|led to|results in)\b`)
)

// LintSQL returns the problems of one panel or variable query: template
// variables in any form but decodeURLComponent('${name:percentencode}'),
// macros other than SafeMacros and constructs ClickHouse 18.16 lacks.
func LintSQL(sql string) []string {
	var problems []string
	for _, m := range variableRe.FindAllStringSubmatch(safeVariable.ReplaceAllString(sql, ""), -1) {
		if strings.HasPrefix(m[1], "__") {
			continue // a plugin macro: checked below
		}
		name := m[1] + m[2] + m[4]
		problems = append(problems, fmt.Sprintf("template variable %s reaches the SQL unescaped (a quote or backslash in its value would change the query): write decodeURLComponent('${%s:percentencode}')", m[0], name))
	}
	for _, m := range macroRef.FindAllStringSubmatch(sql, -1) {
		safe := false
		for _, s := range SafeMacros {
			safe = safe || m[1] == s
		}
		if !safe {
			problems = append(problems, fmt.Sprintf("macro $__%s is not safe on ClickHouse 18.16 (use %s)", m[1], strings.Join(SafeMacros, ", ")))
		}
	}
	for _, f := range forbiddenSQL {
		if f.re.MatchString(sql) {
			problems = append(problems, f.reason)
		}
	}
	return problems
}

// AdjustedDimension names, for each impact_stats metric that has a
// segment-adjusted version, the dimension of that version: a panel reading
// the metric's pooled row must read this one too.
var AdjustedDimension = map[string]string{
	"win_rate_diff_fast_minus_slow": "stratified",
}

// LintFigures returns the problems of a panel query as a figure: a rate or
// a difference (a column named *rate*, *share*, *diff*, *compliance*,
// *change*, *did*, or a percentunit panel) without a column giving its n
// (n or n_<what>); a pooled estimate (a column named *pooled*) without an
// adjusted one beside it (*adjusted*); a pooled impact_stats row of a
// metric with an adjusted version without that version. Operational
// panels (pipeline health) are measurements, not estimates, and exempt.
func LintFigures(sql string, percent bool) []string {
	var problems []string
	var aliases []string
	for _, m := range outputAlias.FindAllStringSubmatch(sql, -1) {
		aliases = append(aliases, m[1])
	}
	rate, n, pooled, adjusted := "", false, "", false
	for _, a := range aliases {
		switch {
		case nAlias.MatchString(a):
			n = true
		case rateAlias.MatchString(a) && rate == "":
			rate = a
		}
		if pooledAlias.MatchString(a) && pooled == "" {
			pooled = a
		}
		adjusted = adjusted || adjustedAlias.MatchString(a)
	}
	if rate == "" && percent {
		rate = "the percentunit values"
	}
	if rate != "" && !n {
		problems = append(problems, fmt.Sprintf("shows a rate or difference (%s) without its n: select the sample size as n or n_<what>", rate))
	}
	if pooled != "" && !adjusted {
		problems = append(problems, fmt.Sprintf("shows a pooled estimate (%s) without the adjusted one beside it (a column named adjusted_*)", pooled))
	}
	for metric, dim := range AdjustedDimension {
		if strings.Contains(sql, "'"+metric+"'") && strings.Contains(sql, "'pooled'") && !strings.Contains(sql, "'"+dim+"'") {
			problems = append(problems, fmt.Sprintf("reads the pooled %s without its adjusted (%s) row", metric, dim))
		}
	}
	return problems
}

// Lint checks one exported dashboard JSON against the house rules: every
// panel has a title, a description stating method, n and evidence level
// without causal wording, a unit, and takes its data from the ${datasource}
// variable; every query uses only safe macros and SQL ClickHouse 18.16
// runs; a rate or difference comes with its n and a pooled estimate with
// the adjusted one (LintFigures). It returns the problems found, each
// prefixed with where.
func Lint(dashboardJSON []byte) []string {
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Type       string          `json:"type"`
				Name       string          `json:"name"`
				Multi      bool            `json:"multi"`
				Query      json.RawMessage `json:"query"`
				Datasource *dsRef          `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
		Panels []lintPanel `json:"panels"`
	}
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return []string{fmt.Sprintf("decode dashboard: %v", err)}
	}
	var problems []string
	add := func(where, format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	if d.UID == "" || !regexp.MustCompile(`^impact-[a-z]+(-[a-z0-9]+)*$`).MatchString(d.UID) || len(d.UID) > 40 {
		add("dashboard "+d.Title, "uid %q is not a stable impact-* uid", d.UID)
	}
	hasDSVar := false
	for _, v := range d.Templating.List {
		where := fmt.Sprintf("%s variable %s", d.UID, v.Name)
		if v.Multi {
			// percentencode joins a list as {a,b} before encoding: no
			// safe SQL form keeps the values apart.
			add(where, "multi-value variables have no injection-safe SQL form here")
		}
		switch v.Type {
		case "adhoc":
			add(where, "ad hoc filters are written into the SQL by the plugin, not through a safe format")
		case "datasource":
			var q string
			_ = json.Unmarshal(v.Query, &q)
			if v.Name == "datasource" && q == PluginID {
				hasDSVar = true
			}
		case "constant":
			// A fixed value (a department's own dashboard): it still
			// reaches SQL only in the safe form, which LintSQL checks.
		case "query":
			if v.Datasource == nil || v.Datasource.UID != DatasourceVar {
				add(where, "datasource is not %s", DatasourceVar)
			}
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil {
				add(where, "query is not a SQL string")
			}
			for _, p := range LintSQL(q) {
				add(where, "%s", p)
			}
		}
	}
	if !hasDSVar {
		add(d.UID, "no datasource variable named datasource of type %s", PluginID)
	}
	if len(d.Panels) == 0 {
		add(d.UID, "no panels")
	}
	for i, p := range d.Panels {
		where := fmt.Sprintf("%s panel %d %q", d.UID, i, p.Title)
		if strings.TrimSpace(p.Title) == "" {
			add(where, "no title")
		}
		for _, part := range []string{"Method: ", "n: ", "Evidence: "} {
			if !strings.Contains(p.Description, part) {
				add(where, "description does not state %q", strings.TrimSpace(part))
			}
		}
		if w := causalWords.FindString(p.Description); w != "" {
			add(where, "description uses causal wording %q; say \"associated with\"", w)
		}
		if p.FieldConfig.Defaults.Unit == "" {
			add(where, "no unit")
		}
		percent := p.FieldConfig.Defaults.Unit == unitPercent
		for _, o := range p.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				if v, ok := prop.Value.(string); ok && prop.ID == "unit" && v == unitPercent {
					percent = true
				}
			}
		}
		operational := strings.Contains(p.Description, "Evidence: "+Operational+".")
		if p.Datasource == nil || p.Datasource.UID != DatasourceVar || p.Datasource.Type != PluginID {
			add(where, "datasource is not the %s variable of type %s", DatasourceVar, PluginID)
		}
		if len(p.Targets) == 0 {
			add(where, "no query")
		}
		for _, t := range p.Targets {
			if t.Datasource == nil || t.Datasource.UID != DatasourceVar {
				add(where, "query %s datasource is not %s", t.RefID, DatasourceVar)
			}
			if t.EditorType != "sql" || strings.TrimSpace(t.RawSQL) == "" {
				add(where, "query %s is not raw SQL", t.RefID)
			}
			wantFormat := FormatTable
			if p.Type == string(TimeSeries) {
				wantFormat = FormatTimeSeries
			}
			if t.Format != wantFormat {
				add(where, "query %s format %d, want %d for a %s panel", t.RefID, t.Format, wantFormat, p.Type)
			}
			for _, prob := range LintSQL(t.RawSQL) {
				add(where, "%s", prob)
			}
			if !operational {
				for _, prob := range LintFigures(t.RawSQL, percent) {
					add(where, "%s", prob)
				}
			}
		}
	}
	return problems
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type lintPanel struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *dsRef `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID      string `json:"refId"`
		Datasource *dsRef `json:"datasource"`
		EditorType string `json:"editorType"`
		Format     int    `json:"format"`
		RawSQL     string `json:"rawSql"`
	} `json:"targets"`
}
