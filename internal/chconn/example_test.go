package chconn_test

import (
	"context"
	"fmt"
	"log"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
)

// Open a connection to a database, creating it first.
func ExampleOpen() {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	cfg := srv.Config("impact") // or config.FromEnv().ClickHouse
	if err := chconn.EnsureDatabase(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// INSERTs name their columns: ClickHouse 18.16 needs it.
	if err := conn.Exec(ctx, "CREATE TABLE t (id String, n UInt32) ENGINE = ReplacingMergeTree ORDER BY id"); err != nil {
		log.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO t (id, n)")
	if err != nil {
		log.Fatal(err)
	}
	defer batch.Close()
	for _, id := range []string{"a", "b", "a"} {
		if err := batch.Append(id, uint32(1)); err != nil {
			log.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		log.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM t FINAL").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
	// Output: 2
}
