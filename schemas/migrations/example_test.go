package migrations_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/schemas/migrations"
)

// Apply the embedded migrations; the second run has nothing to do. This is
// what `impact migrate` and the start of `impact ingest` do.
func ExampleApply() {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	cfg := srv.Config("impact")
	if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	first, err := migrations.Apply(ctx, conn, migrations.Options{Database: "impact"})
	if err != nil {
		log.Fatal(err)
	}
	second, err := migrations.Apply(ctx, conn, migrations.Options{Database: "impact"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first run applied:", first.Applied[0].Name)
	fmt.Println("second run:", strings.SplitN(second.String(), " (", 2)[0])
	// Output:
	// first run applied: 0001_events_raw
	// second run: nothing to do
}

// The replicated DDL of --cluster, e.g. to review it before running
// `impact migrate --cluster NAME`.
func ExampleStatements() {
	stmts, err := migrations.Statements(migrations.Options{Cluster: "prod", Database: "impact"})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stmts {
		if strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS impact.events_raw ON") {
			fmt.Println(s)
		}
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS impact.events_raw ON CLUSTER prod AS impact.events_raw_local
	// ENGINE = Distributed(prod, impact, events_raw_local, cityHash64(event_source, event_id))
}
