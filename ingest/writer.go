package ingest

import (
	"context"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/chconn"
)

// writer stores batches: dead-letter messages to Kafka, rows to ClickHouse.
// Failures are retried with capped exponential backoff until they succeed
// or ctx ends; while a batch retries its table's queue (and, through the
// memory budget, fetching) waits and no offset past it is committed.
type writer struct {
	ins      *chconn.Inserter
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
		err := w.insert(ctx, b)
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

// insert sends b's rows to ClickHouse (schemas.Blocks.Insert: one INSERT
// with the table's explicit column list, the rows in the Native format).
func (w *writer) insert(ctx context.Context, b *batch) error {
	return b.chunks.Insert(ctx, w.ins)
}
