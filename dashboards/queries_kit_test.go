package dashboards

import "math"

// Test helpers: every query of a dashboard (golden and injection tests) and
// Grafana's threshold rule (alert tests).

// NamedQuery is one query of a dashboard with the file it comes from.
type NamedQuery struct{ Name, SQL string }

// Queries returns the dashboard's variable queries, then its panel
// queries, unexpanded.
func (d Dashboard) Queries() ([]NamedQuery, error) {
	var names []string
	for _, v := range d.Variables {
		names = append(names, v.SQL)
	}
	for _, p := range d.Panels {
		names = append(names, p.SQL)
	}
	out := make([]NamedQuery, 0, len(names))
	for _, n := range names {
		sql, err := readSQL(n)
		if err != nil {
			return nil, err
		}
		out = append(out, NamedQuery{n, sql})
	}
	return out, nil
}

// Fires reports whether a row's value fires the rule (Grafana's threshold
// expression "is above").
func (r AlertRule) Fires(value float64, t Thresholds) bool {
	return !math.IsNaN(value) && value > r.Threshold(t)
}
