package ingest

import (
	"context"
	"fmt"
	"log/slog"
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
	bo := backoff{min: w.min, max: w.max}
	if len(b.dlq) > 0 && !b.dlqDone {
		for {
			err := w.dlq.WriteMessages(ctx, b.dlq...)
			if err == nil {
				b.dlqDone = true
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d := bo.next()
			w.m.retries.WithLabelValues("dlq").Inc()
			w.log.Warn("produce to dead-letter topic failed; retrying", "topic", w.dlq.Topic, "messages", len(b.dlq), "err", err, "retry_in", d)
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		bo.reset()
	}
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

// insert sends b as one native INSERT with the table's explicit column list.
func (w *writer) insert(ctx context.Context, t *table, b *batch) error {
	bt, err := w.conn.PrepareBatch(ctx, t.query)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t.name, err)
	}
	defer bt.Close()
	n := len(t.cols)
	for i := 0; i+n <= len(b.vals); i += n {
		if err := bt.Append(b.vals[i : i+n]...); err != nil {
			return fmt.Errorf("append row %d to %s batch: %w", i/n, t.name, err)
		}
		// Send a block every blockRows rows: clickhouse-go keeps three
		// copies of a block (columns, encoded, compressed), so one huge
		// block would cost several times the batch in memory.
		if row := i/n + 1; row%blockRows == 0 && i+n < len(b.vals) {
			if err := bt.Flush(); err != nil {
				return fmt.Errorf("insert %s block at row %d: %w", t.name, row, err)
			}
		}
	}
	if err := bt.Send(); err != nil {
		return fmt.Errorf("insert %s batch of %d rows: %w", t.name, b.rows, err)
	}
	return nil
}
