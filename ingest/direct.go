package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"
)

// InsertDirect decodes msgs and inserts their rows into ClickHouse exactly
// as the ingester would (same rows, same batches of batchRows events, one
// concurrent INSERT per table) but without Kafka, offsets or retries. It
// returns the time spent inserting, excluding decoding: the benchmark's
// raw ClickHouse rate. Rejected messages go to ingest_rejects only.
func InsertDirect(ctx context.Context, conn driver.Conn, msgs []kafka.Message, batchRows int) (time.Duration, error) {
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	w := &writer{conn: conn}
	var bl builder
	var spent time.Duration
	now := time.Now().UTC().Truncate(time.Second)
	for len(msgs) > 0 {
		chunk := msgs[:min(batchRows, len(msgs))]
		msgs = msgs[len(chunk):]
		tables := map[string]*table{}
		batches := map[string]*batch{}
		for i := range chunk {
			rows, _ := bl.build(&chunk[i], 0, now)
			for _, r := range rows {
				b := batches[r.table]
				if b == nil {
					cols := r.cols
					if cols == nil {
						cols = typedColumnsOf(r.payload)
					}
					tables[r.table] = newTable(r.table, cols)
					b = &batch{}
					batches[r.table] = b
				}
				b.vals = append(b.vals, r.vals...)
				b.rows++
			}
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, len(tables))
		for name, t := range tables {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.insert(ctx, t, batches[name]); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		spent += time.Since(start)
		close(errs)
		if err := <-errs; err != nil {
			return spent, fmt.Errorf("insert direct: %w", err)
		}
	}
	return spent, nil
}
