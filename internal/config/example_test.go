package config_test

import (
	"fmt"

	"github.com/secimpact/impact/internal/config"
)

// The zero Topics value names the topics of event contract v1; events go
// to the topic of their type family.
func ExampleTopics_ForType() {
	var t config.Topics
	fmt.Println(t.ForType("crm.opportunity.closed"))
	fmt.Println(t.ForType("security.finding.opened"))
	fmt.Println(t.ForType("unknown.thing")) // ingest rejects it to the DLQ from there
	fmt.Println(t.DLQTopic())
	// Output:
	// crm.events
	// security.events
	// security.events
	// impact.dlq
}

// Tests sharing one broker give each test its own topics.
func ExampleTopics_WithSuffix() {
	t := config.Topics{CRM: "sales.crm"}.WithSuffix(".t42")
	fmt.Println(t.Sources())
	fmt.Println(t.DLQTopic())
	// Output:
	// [security.events.t42 deployment.events.t42 sales.crm.t42 support.events.t42 catalog.events.t42]
	// impact.dlq.t42
}

// The zero ClickHouse value connects as "default" to database "impact".
func ExampleClickHouse() {
	var c config.ClickHouse
	fmt.Println(c.Username(), c.DB())
	// Output: default impact
}
