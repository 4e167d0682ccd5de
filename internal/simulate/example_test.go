package simulate_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/secimpact/impact/internal/simulate"
)

// Simulate two months of a small organisation to JSON Lines and read the
// realised truth the analyst tables must reproduce.
func ExampleWriteJSONL() {
	truth, err := simulate.WriteJSONL(context.Background(), io.Discard, simulate.Options{Seed: 1, Days: 60, Scale: 0.2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("end:", truth.End.Format("2006-01-02"))
	fmt.Println("every line is an event, a duplicate or a planted invalid one:",
		truth.Delivery.Lines == truth.Delivery.ValidEvents+truth.Delivery.Duplicates+truth.Delivery.Invalid)
	fmt.Println("closed deals = buckets:", truth.Deals.Closed == sum(truth.Deals.ByBucket))
	// Output:
	// end: 2026-07-01
	// every line is an event, a duplicate or a planted invalid one: true
	// closed deals = buckets: true
}

func sum(m map[string]simulate.Rate) int {
	n := 0
	for _, r := range m {
		n += r.N
	}
	return n
}

// Run hands every line to a sink in delivery order: here, count them per
// Kafka topic family, as a publisher routing with config.Topics.ForType would.
func ExampleRun() {
	perFamily := map[string]int{}
	_, err := simulate.Run(context.Background(), simulate.Options{Seed: 1, Days: 30, Scale: 0.2}, func(r simulate.Record) error {
		if r.Invalid == "" {
			family, _, _ := strings.Cut(r.Type, ".")
			perFamily[family]++
		}
		return nil
	})
	fmt.Println(err, perFamily["security"] > 0, perFamily["crm"] > 0, perFamily["support"] > 0, perFamily["deployment"] > 0, perFamily["catalog"] > 0)
	// Output: <nil> true true true true true
}
