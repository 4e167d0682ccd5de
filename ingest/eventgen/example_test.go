package eventgen_test

import (
	"fmt"

	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/config"
)

func ExampleGenerate() {
	msgs := eventgen.Generate(3, config.DefaultTopics(), eventgen.Options{Seed: 1, IDPrefix: "demo"})
	for _, m := range msgs {
		fmt.Println(m.Topic, string(m.Key))
	}
	// Output:
	// security.events F-0
	// security.events F-0
	// deployment.events D-0
}
