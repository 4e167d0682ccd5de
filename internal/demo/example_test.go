package demo_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/secimpact/impact/internal/demo"
)

// Run starts its own Kafka and ClickHouse when none are configured and
// returns the summary `impact demo --json` prints.
func ExampleRun() {
	s, err := demo.Run(context.Background(), demo.Options{Days: 90, Seed: 7, Out: os.TempDir() + "/impact-demo", Progress: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range s.Headlines {
		fmt.Println(h.Title, *h.Estimate, h.N, h.Evidence)
	}
	fmt.Println("brief:", s.Paths.Brief)
}
