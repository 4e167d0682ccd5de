package transform_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/secimpact/impact/transform"
)

// The tables a refresh maintains, in build order.
func ExampleTables() {
	fmt.Println(strings.Join(transform.Tables(), "\n"))
	// Output:
	// findings
	// deal_facts
	// deployment_facts
	// ticket_facts
	// department_scorecard
	// impact_stats
}

// Plan shows the SQL a refresh sends; here how the incremental refresh of
// deal_facts swaps the rebuilt table in.
func ExamplePlan() {
	stmts, err := transform.Plan(transform.Options{AsOf: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}, transform.Incremental)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range stmts {
		if strings.Contains(q, "deal_facts_next") && !strings.Contains(q, "\n") {
			fmt.Println(q)
		}
	}
	// Output:
	// DROP TABLE IF EXISTS deal_facts_next
	// ALTER TABLE deal_facts REPLACE PARTITION tuple() FROM deal_facts_next
	// DROP TABLE deal_facts_next
}
