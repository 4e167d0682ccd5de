// Package ingest consumes the source topics of event contract v1 with one
// Kafka consumer group and writes them to ClickHouse: every valid event to
// events_raw and to its typed entity table, every invalid one to the
// dead-letter topic and to ingest_rejects.
//
// Delivery is at least once and replays are harmless: offsets are committed
// only after every row up to them is in ClickHouse (and every reject is
// acknowledged by the DLQ), and every table is a ReplacingMergeTree keyed on
// the event identity, so the analyst views (FINAL / argMax) count each event
// once however often it was written.
package ingest

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas"
)

// Config configures an Ingester. The zero value (plus connection settings)
// is a sane production default.
type Config struct {
	Kafka      config.Kafka
	ClickHouse config.ClickHouse

	// GroupID is the consumer group; default "impact-ingest".
	GroupID string

	// FlushAge is the longest a row waits in a batch; default 1s.
	FlushAge time.Duration
	// BatchRows flushes a table's batch at this many rows; default 50,000.
	BatchRows int
	// BatchBytes flushes a table's batch at this many message bytes; default 32 MiB.
	BatchBytes int64
	// MemoryBudget bounds the bytes of fetched messages not yet in
	// ClickHouse; fetching waits when it is used up. Default 96 MiB, which
	// keeps the process under 256 MiB RSS (see MemoryLimit). A larger
	// budget makes larger INSERTs (less ClickHouse CPU per event) and
	// keeps more in flight: 2M-event bench, load 4.5-6: 64 MiB 49,100
	// events/s, 80 MiB 102,634, 128 MiB 105,677 (RSS 345 MiB); batches in
	// reused chunks later made room for 96 MiB (docs/ingest.md).
	MemoryBudget int64

	// ShutdownTimeout bounds the final flush and commit after the context
	// is cancelled (SIGINT/SIGTERM); default 30s.
	ShutdownTimeout time.Duration
	// BackoffMin and BackoffMax bound the capped exponential backoff (with
	// jitter) of ClickHouse and DLQ retries; defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// CommitInterval is how often done offsets are committed; default 1s.
	CommitInterval time.Duration

	// FetchMaxBytes caps the size of one fetch request per partition;
	// default 16 MiB. The fetch size actually used is the fetch share of
	// the memory budget divided by the assigned partitions, within
	// [64 KiB, FetchMaxBytes] (see fetch.go).
	FetchMaxBytes int

	// TimeWindow is the accepted range of event times; the zero value is
	// schemas.DefaultEarliest (2000-01-01) .. now + schemas.DefaultMaxSkew
	// (1 h). Events outside it are rejected (rule time_window).
	TimeWindow schemas.TimeWindow

	// StallTimeout makes /readyz fail when a partition has messages past
	// its committed offset and that offset has not advanced for this long;
	// default 2m.
	StallTimeout time.Duration

	// Drain makes Run return nil once every partition of every source
	// topic is caught up: the group's committed offset has reached the end
	// offset the partition had when Run started.
	Drain bool
	// NoMigrate skips applying ClickHouse migrations at start.
	NoMigrate bool

	// Listen is the address of the /healthz, /readyz and /metrics server;
	// empty means no server. Use "127.0.0.1:0" for a free port.
	Listen string

	// Logger receives structured logs; default discards them.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultGroupID        = "impact-ingest"
	DefaultFlushAge       = time.Second
	DefaultBatchRows      = 50_000
	DefaultBatchBytes     = 32 << 20
	DefaultMemoryBudget   = 96 << 20
	DefaultShutdown       = 30 * time.Second
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultCommitInterval = time.Second
	DefaultFetchMaxBytes  = 16 << 20
	DefaultStallTimeout   = 2 * time.Minute
	// DefaultListen is the address `impact ingest` serves health and
	// metrics on when no --listen is given (9464: the Prometheus exporter
	// port convention for OpenTelemetry-style exporters).
	DefaultListen = "127.0.0.1:9464"
)

// MemoryLimit is the Go runtime soft memory limit that suits a memory
// budget: the budget covers the fetched messages and the batched rows;
// 112 MiB more is for the runtime, the reused batch chunks (a quarter of
// the budget), kafka-go's decompression buffers (4 MiB per LZ4 frame block
// in flight; a record batch at most decompressLimit), connection buffers
// and garbage not yet collected. `impact ingest` sets it
// (runtime/debug.SetMemoryLimit) unless GOMEMLIMIT is set.
func MemoryLimit(budget int64) int64 {
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	return budget + 112<<20
}

// Validate reports a setting that cannot work, naming the field: a
// negative size, count or duration is an error, not silently the default
// (zero values are the defaults), and so is a BackoffMax below BackoffMin.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"BatchRows", int64(c.BatchRows)},
		{"BatchBytes", c.BatchBytes},
		{"MemoryBudget", c.MemoryBudget},
		{"FetchMaxBytes", int64(c.FetchMaxBytes)},
	} {
		if f.v < 0 {
			return fmt.Errorf("ingest: Config.%s %d is negative", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"FlushAge", c.FlushAge},
		{"ShutdownTimeout", c.ShutdownTimeout},
		{"BackoffMin", c.BackoffMin},
		{"BackoffMax", c.BackoffMax},
		{"CommitInterval", c.CommitInterval},
		{"StallTimeout", c.StallTimeout},
	} {
		if f.d < 0 {
			return fmt.Errorf("ingest: Config.%s %s is negative", f.name, f.d)
		}
	}
	if c.BackoffMin > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("ingest: Config.BackoffMax %s is below BackoffMin %s", c.BackoffMax, c.BackoffMin)
	}
	if err := c.TimeWindow.Validate(); err != nil {
		return fmt.Errorf("ingest: Config.TimeWindow: %w", err)
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	if c.FlushAge <= 0 {
		c.FlushAge = DefaultFlushAge
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdown
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffMin { // a default below a set BackoffMin
		c.BackoffMax = c.BackoffMin
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}
