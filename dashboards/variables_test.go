package dashboards

import "testing"

// TestInterpolate pins Grafana's formatting (scenes' formatRegistry and
// CustomAllValue, the plugin's default format) on the department
// dashboard's variables.
func TestInterpolate(t *testing.T) {
	d := department()
	one := func(v string) map[string]Selection { return map[string]Selection{"team": Select(v)} }
	list := map[string]Selection{"team": {Values: []string{"a", "it's"}, Multi: true}}
	all := map[string]Selection{"team": SelectAll}
	tests := []struct {
		sql  string
		sel  map[string]Selection
		want string
	}{
		// The plugin's format function: pasted as is; a list quoted, unescaped.
		{"'${team}'", one("it's"), "'it's'"},
		{"'$team'", one("x"), "'x'"},
		{"[[team]]", one("x"), "x"},
		{"(${team})", list, "('a','it's')"},
		// encodeURIComponent plus !'()* : only A-Z a-z 0-9 - _ . ~ %XX.
		{"${team:percentencode}", one(`R&D's lab (1)! *~_.-\`), "R%26D%27s%20lab%20%281%29%21%20%2A~_.-%5C"},
		{"${team:percentencode}", one("é部🚀"), "%C3%A9%E9%83%A8%F0%9F%9A%80"},
		{"${team:percentencode}", list, "%7Ba%2Cit%27s%7D"},
		{"${team:percentencode}", map[string]Selection{}, ""},
		{"${team:sqlstring}", one(`it's "x" \`), `'it''s \"x\" \'`},
		{"${team:singlequote}", list, `'a','it\'s'`},
		{"${team:doublequote}", one(`a"b`), `"a\"b"`},
		{"${team:csv}", list, "a,it's"},
		{"${team:pipe}", list, "a|it's"},
		{"${team:join: / }", list, "a / it's"},
		{"${team:distributed}", list, "a,team=it's"},
		{"${team:glob}", list, "{a,it's}"},
		{"${team:glob}", one("x"), "x"},
		{"${team:nosuchformat}", list, "{a,it's}"},
		{"${team:text}", list, "a + it's"},
		// All with an all value: the value itself, unformatted except by
		// text and percentencode.
		{"'${team}'", all, "'__all'"},
		{"${team:sqlstring}", all, "__all"},
		{"${team:percentencode}", all, "__all"},
		{"${team:text}", all, "All"},
		// Not the dashboard's variables: left alone.
		{"$__timeFilter(t) ${datasource} $nosuch", one("x"), "$__timeFilter(t) ${datasource} $nosuch"},
	}
	for _, tt := range tests {
		got, err := d.Interpolate(tt.sql, tt.sel)
		if err != nil {
			t.Errorf("%s: %v", tt.sql, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s with %v:\n got %s\nwant %s", tt.sql, tt.sel, got, tt.want)
		}
	}
	for _, sql := range []string{"${team:queryparam}", "${team:json}", "${team.label}"} {
		if _, err := d.Interpolate(sql, one("x")); err == nil {
			t.Errorf("%s: no error for what is not reproduced", sql)
		}
	}
}
