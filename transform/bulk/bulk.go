// Package bulk loads CloudEvents straight into the typed ClickHouse tables,
// bypassing Kafka and ingest, so transform tests and the transform
// benchmark can fill a database with millions of events quickly. It decodes
// with schemas.Decode exactly as ingest does and writes the same columns,
// but it is not a substitute for ingest: no DLQ, no offsets, no retries.
package bulk

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas"
)

// DefaultBatchRows is the batch size per table when Loader.BatchRows is 0.
const DefaultBatchRows = 100_000

// Loader batches decoded events per typed table. Not safe for concurrent
// use.
type Loader struct {
	Conn driver.Conn
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

	dec     schemas.Decoder
	pending map[string]*pending
	offset  int64
	stats   Stats
}

// Stats counts what a Loader did.
type Stats struct {
	Rows     int // rows written to typed tables
	Rejected int // values schemas.Decode rejected
}

type pending struct {
	cols []string
	rows [][]any
}

// Add decodes one structured-mode event and queues its row; a full batch
// is written. A value the decoder rejects is counted and skipped.
func (l *Loader) Add(ctx context.Context, value []byte) error {
	ev, err := l.dec.Decode(value, nil)
	if err != nil {
		l.stats.Rejected++
		return nil
	}
	if l.pending == nil {
		l.pending = map[string]*pending{}
	}
	table := ev.Payload.Table()
	p := l.pending[table]
	if p == nil {
		p = &pending{cols: schemas.TypedColumns(ev.Payload)}
		l.pending[table] = p
	}
	at := l.IngestedAt
	if at.IsZero() {
		at = time.Now()
	}
	row := make([]any, 0, len(p.cols))
	row = ev.AppendEnvelope(row)
	row = ev.Payload.AppendValues(row)
	if l.Step > 0 {
		at = at.Add(time.Duration(l.offset) * l.Step)
	}
	row = append(row, l.Topics.ForType(ev.Type), int32(0), l.offset, at.UTC().Truncate(time.Second))
	l.offset++
	p.rows = append(p.rows, row)
	n := l.BatchRows
	if n <= 0 {
		n = DefaultBatchRows
	}
	if len(p.rows) >= n {
		return l.flush(ctx, table, p)
	}
	return nil
}

// Flush writes every queued row.
func (l *Loader) Flush(ctx context.Context) error {
	for table, p := range l.pending {
		if err := l.flush(ctx, table, p); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the counts so far.
func (l *Loader) Stats() Stats { return l.stats }

func (l *Loader) flush(ctx context.Context, table string, p *pending) error {
	if len(p.rows) == 0 {
		return nil
	}
	q := "INSERT INTO " + table + " ("
	for i, c := range p.cols {
		if i > 0 {
			q += ", "
		}
		q += c
	}
	q += ")"
	b, err := l.Conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("insert %s batch: %w", table, err)
	}
	defer b.Close()
	for _, r := range p.rows {
		if err := b.Append(r...); err != nil {
			return fmt.Errorf("insert %s batch: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %s batch: %w", table, err)
	}
	l.stats.Rows += len(p.rows)
	p.rows = p.rows[:0]
	return nil
}
