package sqlcheck_test

import (
	"context"
	"fmt"
	"log"

	"github.com/secimpact/impact/internal/sqlcheck"
)

// Check that statements written for ClickHouse 18.16 also run on a current
// release. In a test, sqlcheck.RunChDB(t, stmts) does the same and fails t.
func ExampleCheck() {
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS deals (id String, won UInt8, closed_at DateTime) ENGINE = ReplacingMergeTree ORDER BY id",
		"INSERT INTO deals (id, won, closed_at) VALUES ('d1', 1, '2026-03-02 10:00:00')",
		"SELECT toMonday(closed_at) AS week, avg(won) FROM deals FINAL GROUP BY week",
	}
	if _, err := sqlcheck.Check(context.Background(), stmts, sqlcheck.Options{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok")
	// Output: ok
}

// Lint catches SQL a current ClickHouse accepts but 18.16 does not; in a
// test, sqlcheck.LintT(t, stmts) fails t instead.
func ExampleLint() {
	for _, err := range sqlcheck.Lint([]string{
		"SELECT toMonday(closed_at) AS week, count() FROM deals GROUP BY week",
		"SELECT toStartOfInterval(closed_at, INTERVAL 1 week) FROM deals",
	}) {
		fmt.Println(err)
	}
	// Output: statement 1: toStartOfInterval is missing on 18.16: bucket with toStartOfDay, toMonday, toStartOfMonth
}
