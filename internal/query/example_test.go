package query_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/query"
)

// Run an analyst's query read-only and print it as CSV; a write is refused.
func ExampleRun() {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	conn, err := chconn.Open(ctx, srv.Config("default"))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	sql := "SELECT number AS n, number * 2 AS twice FROM system.numbers LIMIT 3"
	r, err := query.Run(ctx, conn, sql, os.Stdout, query.Options{Format: query.CSV})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Rows, "rows")

	_, err = query.Run(ctx, conn, "CREATE TABLE t (x UInt8) ENGINE = Memory", os.Stdout, query.Options{})
	fmt.Println(errors.Is(err, query.ErrReadOnly))
	// Output:
	// n,twice
	// 0,0
	// 1,2
	// 2,4
	// 3 rows
	// true
}
