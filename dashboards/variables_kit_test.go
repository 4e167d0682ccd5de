package dashboards

import (
	"fmt"
	"regexp"
	"strings"
)

// Selection is the current value of a template variable as Grafana holds
// it: one value, a list (a multi-value variable, or several var-NAME
// parameters in the dashboard URL), or the "All" option.
type Selection struct {
	Values []string
	Multi  bool // the value is a list even if it holds one element
	All    bool // the "All" option is selected
}

// Select is the Selection of one value.
func Select(v string) Selection { return Selection{Values: []string{v}} }

// SelectAll is the Selection of the "All" option.
var SelectAll = Selection{All: true}

// variableRe is Grafana's variable syntax (scenes'
// packages/scenes/src/variables/constants.ts VARIABLE_REGEX, the same as
// public/app/features/variables/utils.ts): $name, [[name]] or
// [[name:format]], ${name}, ${name.fieldPath} or ${name:format}.
var variableRe = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// Interpolate replaces the dashboard's template variables in sql by their
// selected values exactly as Grafana does before the query reaches the
// ClickHouse plugin's backend: Grafana's scenes interpolator
// (packages/scenes/src/variables/interpolation/sceneInterpolator.ts),
// called by the plugin's applyTemplateVariables with the plugin's own
// format function as the default format (grafana/clickhouse-datasource
// src/data/CHDatasource.ts: a list becomes 'a','b' with nothing escaped,
// a single value is pasted as is). An explicit ${name:format} uses
// Grafana's formatter of that name (formatRegistry.ts, see format). The
// "All" option of a variable with an all value (AllValue) is that value,
// unformatted except by the text and percentencode formats
// (CustomAllValue). Variables the dashboard does not define stay as they
// are, as in Grafana; sel names the selected values.
//
// Not reproduced, and an error if used: ${name.fieldPath} and the formats
// json, lucene, regex, html, date, uriencode, queryparam and
// customqueryparam. Nor are the
// plugin's $__conditionalAll and ad hoc filters: Lint refuses both.
func (d Dashboard) Interpolate(sql string, sel map[string]Selection) (string, error) {
	var err error
	out := variableRe.ReplaceAllStringFunc(sql, func(match string) string {
		m := variableRe.FindStringSubmatch(match)
		name := m[1] + m[2] + m[4] // exactly one is set
		format := m[3] + m[6]
		v, ok := d.variable(name)
		if !ok {
			return match
		}
		if m[5] != "" && err == nil {
			err = fmt.Errorf("interpolate %s: field paths are not reproduced here", match)
		}
		s := sel[name]
		if v.Constant != "" {
			s = Select(v.Constant) // the dashboard's value, whatever the URL says
		}
		if s.All && v.IncludeAll {
			// CustomAllValue.formatter, then the result is interpolated
			// again (AllValue holds no variable).
			switch format {
			case "text":
				return "All"
			case "percentencode":
				return encodeURIComponentStrict(AllValue)
			}
			return AllValue
		}
		if format == "" {
			return pluginFormat(s)
		}
		f, ferr := formatValue(format, name, s)
		if ferr != nil && err == nil {
			err = fmt.Errorf("interpolate %s: %w", match, ferr)
		}
		return f
	})
	return out, err
}

// Render returns the SQL ClickHouse receives for a panel or variable query
// of d: Grafana's variable interpolation, then the plugin's macros.
func (d Dashboard) Render(sql string, sel map[string]Selection, r Request) (string, error) {
	sql, err := d.Interpolate(sql, sel)
	if err != nil {
		return "", err
	}
	return Expand(sql, r)
}

func (d Dashboard) variable(name string) (Variable, bool) {
	for _, v := range d.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// pluginFormat is grafana-clickhouse-datasource's format function, which
// Grafana applies to every variable written without a format.
func pluginFormat(s Selection) string {
	if s.isList() {
		return "'" + strings.Join(s.Values, "','") + "'"
	}
	return s.single()
}

// isList reports whether Grafana holds the value as an array; no value at
// all is the empty string.
func (s Selection) isList() bool { return s.Multi || len(s.Values) > 1 }

func (s Selection) single() string {
	if len(s.Values) == 0 {
		return ""
	}
	return s.Values[0]
}

// formatValue applies Grafana's formatter named format (scenes'
// formatRegistry.ts) to the value of variable name; a format with
// arguments is name:arg:... Unknown formats fall back to glob, as in
// Grafana.
func formatValue(format, name string, s Selection) (string, error) {
	id, args, _ := strings.Cut(format, ":")
	list := s.isList()
	join := func(sep string, f func(string) string) string {
		out := make([]string, len(s.Values))
		for i, v := range s.Values {
			out[i] = f(v)
		}
		return strings.Join(out, sep)
	}
	same := func(v string) string { return v }
	switch id {
	case "raw", "csv":
		return join(",", same), nil // String(array) joins with commas
	case "pipe":
		return join("|", same), nil
	case "join":
		sep := ","
		if args != "" {
			sep = args
		}
		return join(sep, same), nil
	case "distributed":
		out := make([]string, len(s.Values))
		for i, v := range s.Values {
			if i > 0 {
				v = name + "=" + v
			}
			out[i] = v
		}
		return strings.Join(out, ","), nil
	case "singlequote": // ' becomes \' and nothing else changes
		return join(",", func(v string) string { return "'" + strings.ReplaceAll(v, "'", `\'`) + "'" }), nil
	case "doublequote":
		return join(",", func(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }), nil
	case "sqlstring": // ' becomes '' and " becomes \"; backslashes stay
		return join(",", func(v string) string {
			return "'" + strings.NewReplacer("'", "''", `"`, `\"`).Replace(v) + "'"
		}), nil
	case "percentencode":
		if list {
			return encodeURIComponentStrict("{" + strings.Join(s.Values, ",") + "}"), nil
		}
		return encodeURIComponentStrict(s.single()), nil
	case "text": // option texts; a query variable's text is its value
		return join(" + ", same), nil
	case "json", "lucene", "regex", "html", "date", "uriencode", "queryparam", "customqueryparam":
		return "", fmt.Errorf("format %s of Grafana is not reproduced here", id)
	}
	// glob, and the fallback for unknown formats.
	if list && len(s.Values) > 1 {
		return "{" + strings.Join(s.Values, ",") + "}", nil
	}
	return join(",", same), nil
}

// encodeURIComponentStrict is Grafana's encodeURIComponentStrict:
// JavaScript's encodeURIComponent over UTF-8, plus !'()* encoded, so the
// result holds only A-Z a-z 0-9 - _ . ~ and %XX: never a quote or a
// backslash.
func encodeURIComponentStrict(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
