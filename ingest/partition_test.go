package ingest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestPartitionChunks: a batch spanning more years than one INSERT may
// touch is split into chunks of at most the limit, every row kept once and
// in order within its chunk; other batches and tables stay whole.
func TestPartitionChunks(t *testing.T) {
	cols := []string{"event_source", "event_id", "event_time", "x"}
	var vals []any
	for i := range 300 {
		year := 1971 + (i*7)%135 // 1971..2105, interleaved
		vals = append(vals, "s", fmt.Sprint(i), time.Date(year, 6, 1, 0, 0, 0, 0, time.UTC), i)
	}
	chunks := partitionChunks(vals, cols, 50)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks for 135 years at 50 per INSERT, want 3", len(chunks))
	}
	seen := map[int]bool{}
	for _, c := range chunks {
		years := map[int]bool{}
		last := -1
		for r := 0; r*4 < len(c); r++ {
			years[c[r*4+2].(time.Time).Year()] = true
			i := c[r*4+3].(int)
			if seen[i] || i < last {
				t.Fatalf("row %d repeated or out of order", i)
			}
			seen[i], last = true, i
		}
		if len(years) > 50 {
			t.Errorf("chunk spans %d years", len(years))
		}
	}
	if len(seen) != 300 {
		t.Errorf("%d rows after splitting, want 300", len(seen))
	}
	if c := partitionChunks(vals[:40*4], cols, 50); len(c) != 1 || len(c[0]) != 160 {
		t.Errorf("a batch within the limit was split")
	}
	if c := partitionChunks(vals, schemas.RejectColumns, 50); len(c) != 1 {
		t.Errorf("a table without event_time was split")
	}
}

// TestPartitionLimitOnCurrentClickHouse proves on current ClickHouse
// (chdb) what maxPartitionsPerInsert guards against: one INSERT into
// events_raw spanning 101 years is refused (max_partitions_per_insert_block,
// default 100), and INSERTs of maxPartitionsPerInsert years each, as
// partitionChunks makes them, are accepted.
func TestPartitionLimitOnCurrentClickHouse(t *testing.T) {
	ddl, err := migrations.Statements(migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(from, years int) string {
		return fmt.Sprintf("INSERT INTO events_raw (%s) SELECT 's', toString(number), 'security.finding.opened', "+
			"toDateTime(concat(toString(%d + number), '-06-01 00:00:00')), '', 'F', '', '{}', 't', 0, number, now() "+
			"FROM system.numbers LIMIT %d", strings.Join(schemas.RawColumns, ", "), from, years)
	}
	stmts := slices.Concat(ddl, []string{insert(1975, maxPartitionsPerInsert), insert(1975+maxPartitionsPerInsert, maxPartitionsPerInsert)})
	sqlcheck.RunChDB(t, stmts)
	_, err = sqlcheck.Check(t.Context(), slices.Concat(ddl, []string{insert(1975, 101)}), sqlcheck.Options{})
	if err == nil || !strings.Contains(err.Error(), "partitions") {
		t.Fatalf("an INSERT over 101 years: %v, want current ClickHouse to refuse it (too many partitions)", err)
	}
}
