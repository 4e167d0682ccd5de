package dashboards_test

import (
	"fmt"
	"time"

	"github.com/secimpact/impact/dashboards"
)

// Expand turns a panel query into the SQL the ClickHouse plugin sends.
func ExampleExpand() {
	r := dashboards.Request{
		From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
	}
	sql, err := dashboards.Expand("SELECT count() FROM deal_facts WHERE $__timeFilter(closed_at) AND closed_at < $__toTime", r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sql)
	// Output:
	// SELECT count() FROM deal_facts WHERE closed_at >= toDateTime(1775001600) AND closed_at <= toDateTime(1782864000) AND closed_at < toDateTime(1782864000)
}

// Interpolate does Grafana's part, template variables, before Expand does
// the plugin's. The dashboards write a variable only as
// decodeURLComponent('${name:percentencode}'): the encoded value holds no
// quote and no backslash, whatever was selected.
func ExampleDashboard_Interpolate() {
	var d dashboards.Dashboard
	for _, x := range dashboards.All() {
		if x.UID == dashboards.UIDDepartment {
			d = x
		}
	}
	sql, err := d.Interpolate("department = decodeURLComponent('${department:percentencode}')",
		map[string]dashboards.Selection{"department": dashboards.Select(`R&D's lab \' --`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sql)
	// Output:
	// department = decodeURLComponent('R%26D%27s%20lab%20%5C%27%20--')
}

// LintSQL flags what ClickHouse 18.16 cannot run.
func ExampleLintSQL() {
	for _, p := range dashboards.LintSQL("SELECT $__timeInterval(t) AS time, count() FROM events_raw GROUP BY time") {
		fmt.Println(p)
	}
	// Output:
	// macro $__timeInterval is not safe on ClickHouse 18.16 (use timeFilter, fromTime, toTime)
}

// All lists the dashboards; each builds to Grafana JSON.
func ExampleAll() {
	for _, d := range dashboards.All() {
		fmt.Println(d.UID, len(d.Panels) > 0)
	}
	// Output:
	// impact-ciso true
	// impact-sales true
	// impact-department true
	// impact-delivery true
	// impact-trust true
	// impact-pipeline true
}
