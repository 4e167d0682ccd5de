package pipelinetest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/schemas/migrations"
)

// Fill a migrated database with 60 simulated days and the analyst tables,
// then compare a table with the simulation's truth. Tests usually call
// pipelinetest.Load(t, opts), which does this on a fresh testenv database.
func ExampleFill() {
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
	if _, err := migrations.Apply(ctx, conn, migrations.Options{SkipLock: true}); err != nil {
		log.Fatal(err)
	}

	truth, err := pipelinetest.Fill(ctx, cfg, conn, simulate.Options{Seed: 1, Days: 60, Scale: 0.2})
	if err != nil {
		log.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM deal_facts").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n == uint64(truth.Deals.Closed), n > 0)
	// Output: true true
}
