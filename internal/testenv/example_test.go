package testenv_test

import (
	"context"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/testenv"
)

// A package's tests share one ClickHouse server and one Kafka cluster per
// test binary; each test gets its own migrated database and its own topics.
// (Compile-only: the function literal stands for a test function.)
func Example() {
	// In main_test.go:
	//	func TestMain(m *testing.M) { testenv.Main(m) }
	_ = func(t *testing.T) {
		ctx := context.Background()
		ch := testenv.ClickHouse(t) // dropped when the test ends
		conn, err := chconn.Open(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM events_raw").Scan(&n); err != nil {
			t.Fatal(err)
		}

		k := testenv.Kafka(t) // brokers + this test's topics, created
		_ = k.Topics.ForType("crm.opportunity.closed")
	}
}
