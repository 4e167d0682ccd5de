package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/secimpact/impact/internal/chconn"
)

// InsertDirect decodes msgs and inserts their rows into ClickHouse exactly
// as the ingester would (same row builder, same batches of batchRows
// events, one concurrent INSERT per table) but without Kafka, offsets or
// retries. It returns the time spent inserting, excluding decoding: the
// benchmark's raw ClickHouse rate. Rejected messages go to ingest_rejects
// only.
func InsertDirect(ctx context.Context, ins *chconn.Inserter, msgs []kafka.Message, batchRows int) (time.Duration, error) {
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	var bl builder
	st := newStaged()
	var spent time.Duration
	now := time.Now().UTC().Truncate(time.Second)
	for len(msgs) > 0 {
		chunk := msgs[:min(batchRows, len(msgs))]
		msgs = msgs[len(chunk):]
		st.reset()
		for i := range chunk {
			bl.build(st, &chunk[i], 0, now)
		}
		start := time.Now()
		g, gctx := errgroup.WithContext(ctx)
		for _, b := range st.rows.Blocks() {
			if b.Len() > 0 {
				g.Go(func() error { return b.Insert(gctx, ins) })
			}
		}
		err := g.Wait()
		spent += time.Since(start)
		if err != nil {
			return spent, fmt.Errorf("insert direct: %w", err)
		}
	}
	return spent, nil
}
