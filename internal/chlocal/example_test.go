package chlocal_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/secimpact/impact/internal/chlocal"
)

// Start a private ClickHouse server, use it, and remove it again.
func Example() {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// srv.Addr() is the native protocol address for clickhouse-go
	// (srv.Config("impact") gives a ready config.ClickHouse); the HTTP
	// interface is on srv.HTTPAddr().
	resp, err := http.Post("http://"+srv.HTTPAddr()+"/", "text/plain", strings.NewReader("SELECT 40 + 2"))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var answer int
	fmt.Fscan(resp.Body, &answer)
	fmt.Println(answer)
	// Output: 42
}

// Simulate an outage: the server goes away and comes back on the same
// address with its data.
func ExampleServer_Stop() {
	ctx := context.Background()
	srv, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	addr := srv.Addr()
	if err := srv.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("running:", srv.Running())
	if err := srv.Restart(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("running:", srv.Running(), "same address:", srv.Addr() == addr)
	// Output:
	// running: false
	// running: true same address: true
}
