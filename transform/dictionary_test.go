package transform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/transform"
)

const dictionaryPath = "../docs/data-dictionary.md"

// TestDataDictionary regenerates docs/data-dictionary.md from the column
// comments of a database built by migrations and one refresh, and fails
// when the committed file differs (-update rewrites it). It also fails
// when a contract table has a column without a comment.
func TestDataDictionary(t *testing.T) {
	conn := open(t)
	refresh(t, conn, transform.Options{AsOf: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)})
	got, err := transform.DataDictionary(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range transform.Tables() {
		if !strings.Contains(got, "\n## "+table+"\n") {
			t.Errorf("data dictionary lacks %s", table)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| `") && strings.HasSuffix(line, "|  |") {
			t.Errorf("column without a comment: %s", line)
		}
	}
	golden.Check(t, dictionaryPath, []byte(got))
}
