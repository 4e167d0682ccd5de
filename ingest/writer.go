package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"
)

// writer stores batches: dead-letter messages to Kafka, rows to ClickHouse.
// Failures are retried with capped exponential backoff until they succeed
// or ctx ends; while a batch retries its table's queue (and, through the
// memory budget, fetching) waits and no offset past it is committed.
type writer struct {
	conn     driver.Conn
	dlq      *kafka.Writer
	log      *slog.Logger
	m        *metrics
	min, max time.Duration
}

func (w *writer) flush(ctx context.Context, t *table, b *batch) error {
	if len(b.dlq) > 0 && !b.dlqDone {
		if err := w.produceDLQ(ctx, t, b); err != nil {
			return err
		}
	}
	bo := backoff{min: w.min, max: w.max}
	for {
		start := time.Now()
		err := w.insert(ctx, t, b)
		if err == nil {
			w.m.insertSec.WithLabelValues(t.name).Observe(time.Since(start).Seconds())
			w.m.batchRows.WithLabelValues(t.name).Observe(float64(b.rows))
			w.m.inserted.WithLabelValues(t.name).Add(float64(b.rows))
			if bo.attempt > 0 {
				w.log.Info("insert succeeded after retries", "table", t.name, "rows", b.rows, "attempts", bo.attempt+1)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := bo.next()
		w.m.retries.WithLabelValues("insert").Inc()
		w.log.Warn("insert failed; retrying", "table", t.name, "rows", b.rows, "err", err, "retry_in", d)
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// blockRows is the row count of the blocks an INSERT is sent in.
const blockRows = 8192

// maxPartitionsPerInsert bounds the partitions (years of event_time) one
// INSERT touches. Current ClickHouse refuses an INSERT block spanning more
// than max_partitions_per_insert_block partitions (default 100; 18.16 has
// no such limit), and a refused batch would be retried for ever. Half the
// default leaves room for the server's time zone moving a year boundary.
const maxPartitionsPerInsert = 50

// insert sends b as native INSERTs with the table's explicit column list:
// one, unless its rows span more than maxPartitionsPerInsert years.
func (w *writer) insert(ctx context.Context, t *table, b *batch) error {
	for _, vals := range partitionChunks(b.vals, t.cols, maxPartitionsPerInsert) {
		if err := w.insertRows(ctx, t, vals); err != nil {
			return err
		}
	}
	return nil
}

// partitionChunks splits row-major vals of a table partitioned by
// toYear(event_time) into groups of rows spanning at most limit years each,
// keeping row order within a group. Tables without event_time, and batches
// within the limit (always, inside the default time window), are one chunk.
func partitionChunks(vals []any, cols []string, limit int) [][]any {
	col := slices.Index(cols, "event_time")
	n := len(cols)
	if col < 0 || n == 0 {
		return [][]any{vals}
	}
	year := func(row int) int {
		t, _ := vals[row*n+col].(time.Time)
		return t.Year()
	}
	years := map[int]int{} // year -> chunk
	for r := 0; r*n < len(vals); r++ {
		years[year(r)] = 0
	}
	if len(years) <= limit {
		return [][]any{vals}
	}
	sorted := slices.Sorted(maps.Keys(years))
	for i, y := range sorted {
		years[y] = i / limit
	}
	chunks := make([][]any, (len(sorted)+limit-1)/limit)
	for r := 0; r*n < len(vals); r++ {
		c := years[year(r)]
		chunks[c] = append(chunks[c], vals[r*n:(r+1)*n]...)
	}
	return chunks
}

// insertRows sends row-major vals as one native INSERT.
func (w *writer) insertRows(ctx context.Context, t *table, vals []any) error {
	bt, err := w.conn.PrepareBatch(ctx, t.query)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t.name, err)
	}
	defer bt.Close()
	n := len(t.cols)
	for i := 0; i+n <= len(vals); i += n {
		if err := bt.Append(vals[i : i+n]...); err != nil {
			return fmt.Errorf("append row %d to %s batch: %w", i/n, t.name, err)
		}
		// Send a block every blockRows rows: clickhouse-go keeps three
		// copies of a block (columns, encoded, compressed), so one huge
		// block would cost several times the batch in memory.
		if row := i/n + 1; row%blockRows == 0 && i+n < len(vals) {
			if err := bt.Flush(); err != nil {
				return fmt.Errorf("insert %s block at row %d: %w", t.name, row, err)
			}
		}
	}
	if err := bt.Send(); err != nil {
		return fmt.Errorf("insert %s batch of %d rows: %w", t.name, len(vals)/max(n, 1), err)
	}
	return nil
}
