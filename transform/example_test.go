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
	// finding_groups
	// dora_changes
	// department_scorecard
	// impact_stats
}

// Plan shows the SQL a refresh sends; here how the incremental refresh of
// deal_facts completes the rebuilt table (untouched partitions attached
// from the live one; the ids are read from the server at run time) and
// swaps it in.
func ExamplePlan() {
	stmts, err := transform.Plan(transform.Options{AsOf: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}, transform.Incremental)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range stmts {
		for _, head := range []string{"ALTER TABLE deal_facts", "RENAME TABLE deal_facts"} {
			if i := strings.Index(q, head); i >= 0 {
				fmt.Println(q[i:]) // without the SQL file's leading comment
			}
		}
	}
	// Output:
	// ALTER TABLE deal_facts_next
	//     ATTACH PARTITION ID '202606' FROM deal_facts
	// RENAME TABLE deal_facts TO deal_facts_old, deal_facts_next TO deal_facts
}
