package pipelinetest_test

import (
	"context"
	"fmt"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
)

// Fill a migrated database with 90 simulated days and the analyst tables.
// Tests usually call pipelinetest.Load(t, opts), which does this on a
// fresh testenv database.
func ExampleFill() {
	ctx := context.Background()
	cfg := config.ClickHouse{Addr: "127.0.0.1:9000", Database: "impact"}
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	truth, err := pipelinetest.Fill(ctx, conn, simulate.Options{Seed: 1, Days: 90})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("closed deals:", truth.Deals.Closed)
}
