// Package bulk loads CloudEvents straight into the typed ClickHouse tables,
// bypassing Kafka and ingest, so transform tests and the transform
// benchmark can fill a database with millions of events quickly. It builds
// rows with schemas.Rows, the row builder ingest uses, so it writes the
// same columns, but it is not a substitute for ingest: no events_raw, no
// DLQ, no offsets, no retries.
package bulk

import (
	"context"
	"fmt"
	"time"

	"github.com/secimpact/impact/internal/chconn"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas"
)

// DefaultBatchRows is the batch size per table when Loader.BatchRows is 0.
const DefaultBatchRows = 100_000

// Loader batches decoded events per typed table. Not safe for concurrent
// use.
type Loader struct {
	// Inserter writes the batches (chconn.NewInserter).
	Inserter *chconn.Inserter
	// BatchRows is the rows per table batch; default DefaultBatchRows.
	BatchRows int
	// IngestedAt is written to ingested_at; zero means time.Now() at Add.
	IngestedAt time.Time
	// Step, when set, stamps each row Step later than the previous one
	// (from IngestedAt), modelling a steady ingest for incremental refresh
	// tests and benchmarks.
	Step time.Duration
	// Topics names kafka_topic (by event family); zero value: defaults.
	Topics config.Topics

	dec    schemas.Decoder
	rows   schemas.Rows
	offset int64
	stats  Stats
}

// Stats counts what a Loader did.
type Stats struct {
	Rows     int // rows written to typed tables
	Rejected int // values schemas.Decode rejected
}

// Add decodes one structured-mode event and queues its row; a full batch
// is written. A value the decoder rejects is counted and skipped. The row
// holds a copy: value may be reused once Add returns.
func (l *Loader) Add(ctx context.Context, value []byte) error {
	if l.rows.TopicOf == nil {
		l.rows.TopicOf = l.Topics.ForType
	}
	at := l.IngestedAt
	if at.IsZero() {
		at = time.Now()
	}
	if l.Step > 0 {
		at = at.Add(time.Duration(l.offset) * l.Step)
	}
	tbl, rej := l.dec.AppendMessage(&l.rows, value, nil, schemas.Lineage{Offset: l.offset, IngestedAt: at})
	// Typed tables only: events_raw and ingest_rejects are ingest's.
	l.rows.Block(schemas.EventsRaw).Reset()
	l.rows.Block(schemas.IngestRejects).Reset()
	if rej != nil {
		l.stats.Rejected++
		return nil
	}
	l.offset++
	n := l.BatchRows
	if n <= 0 {
		n = DefaultBatchRows
	}
	if b := l.rows.Block(tbl); b.Len() >= n {
		return l.flush(ctx, b)
	}
	return nil
}

// Flush writes every queued row.
func (l *Loader) Flush(ctx context.Context) error {
	for _, b := range l.rows.Blocks() {
		if err := l.flush(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the counts so far.
func (l *Loader) Stats() Stats { return l.stats }

func (l *Loader) flush(ctx context.Context, b *schemas.Block) error {
	if b.Len() == 0 {
		return nil
	}
	if err := b.Insert(ctx, l.Inserter); err != nil {
		return fmt.Errorf("bulk: %w", err)
	}
	l.stats.Rows += b.Len()
	b.Reset()
	return nil
}
