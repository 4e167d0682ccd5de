package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/schemas/migrations"
)

// Ingester is one member of the ingest consumer group.
type Ingester struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	budget  *budget // messages fetched until their rows are stored
	fetch   *budget // fetch reservations (fetch.go)
	sink    *sink
	decoder schemas.Decoder
	// progress: lag from the committed offset, stall detection.
	progress *progress
	// batchMax is the largest record batch the source topics accept;
	// dlqLimit the largest dead-letter record. Both read at start.
	batchMax, dlqLimit int
	dialer             *kafka.Dialer
	topics             []string

	ln  net.Listener
	srv *http.Server

	mu     sync.Mutex
	conn   driver.Conn      // nil until connected
	ins    *chconn.Inserter // nil until Run has one
	joined atomic.Bool

	consumed   atomic.Int64
	firstFetch atomic.Int64 // unix nanoseconds of the first fetched message
	drainedAt  atomic.Int64 // unix nanoseconds when drain completed
}

// Stats are counters of a Run, for benchmarks and logs.
type Stats struct {
	Consumed   int64     // messages fetched (replays included)
	FirstFetch time.Time // zero if nothing was fetched
	Drained    time.Time // zero unless drain mode completed
}

// Stats returns the counters so far.
func (in *Ingester) Stats() Stats {
	s := Stats{Consumed: in.consumed.Load()}
	if n := in.firstFetch.Load(); n != 0 {
		s.FirstFetch = time.Unix(0, n)
	}
	if n := in.drainedAt.Load(); n != 0 {
		s.Drained = time.Unix(0, n)
	}
	return s
}

// Run runs an Ingester with cfg until ctx is done (then shuts down
// gracefully within cfg.ShutdownTimeout) or, with cfg.Drain, until every
// partition is caught up.
func Run(ctx context.Context, cfg Config) error {
	in, err := New(cfg)
	if err != nil {
		return err
	}
	defer in.Close()
	return in.Run(ctx)
}

// New checks cfg and, when cfg.Listen is set, starts serving /healthz,
// /readyz and /metrics. Connections are made by Run.
func New(cfg Config) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if len(cfg.Kafka.Brokers) == 0 {
		return nil, errors.New("ingest: no Kafka brokers: set IMPACT_KAFKA_BROKERS or --brokers")
	}
	if cfg.ClickHouse.Addr == "" {
		return nil, errors.New("ingest: no ClickHouse address: set IMPACT_CLICKHOUSE_ADDR or --clickhouse-addr")
	}
	dialer, err := kafkaio.Dialer(cfg.Kafka)
	if err != nil {
		return nil, fmt.Errorf("ingest: kafka dialer: %w", err)
	}
	// Process-global (kafka-go's codec table): bounds every decompression
	// in the process; installed once, before this ingester fetches.
	limitDecompression(decompressLimit(cfg.MemoryBudget))
	share := fetchShare(cfg.MemoryBudget)
	in := &Ingester{
		cfg:     cfg,
		log:     cfg.Logger,
		budget:  newBudget(cfg.MemoryBudget - share),
		fetch:   newBudget(share),
		decoder: schemas.Decoder{Window: cfg.TimeWindow},
		dialer:  dialer,
		topics:  cfg.Kafka.Topics.Sources(),
	}
	in.m = newMetrics(
		func() float64 { return float64(in.budget.inUse() + in.fetch.inUse()) },
		func() float64 {
			if in.joined.Load() && in.progress.stalled(in.cfg.StallTimeout) != "" {
				return 1
			}
			return 0
		})
	in.progress = newProgress(in.m.lag)
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("ingest: listen %s: %w", cfg.Listen, err)
		}
		in.ln = ln
		in.srv = &http.Server{Handler: in.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = in.srv.Serve(ln) }()
		in.log.Info("serving /healthz /readyz /metrics", "listen", ln.Addr().String())
	}
	return in, nil
}

// Addr returns the address of the health and metrics server, "" if none.
func (in *Ingester) Addr() string {
	if in.ln == nil {
		return ""
	}
	return in.ln.Addr().String()
}

// Close stops the health server and closes the ClickHouse connection.
func (in *Ingester) Close() error {
	var errs []error
	if in.srv != nil {
		errs = append(errs, in.srv.Close())
	}
	in.mu.Lock()
	if in.conn != nil {
		errs = append(errs, in.conn.Close())
		in.conn = nil
	}
	in.mu.Unlock()
	return errors.Join(errs...)
}

// Run consumes until ctx is done or, in drain mode, until caught up. It
// returns nil after a clean shutdown; ClickHouse outages are waited out,
// never returned.
func (in *Ingester) Run(ctx context.Context) error {
	cfg := in.cfg
	in.log.Info("ingest starting",
		"brokers", cfg.Kafka.Brokers, "topics", in.topics, "dlq", cfg.Kafka.Topics.DLQTopic(),
		"group", cfg.GroupID, "kafka_tls", cfg.Kafka.TLS, "kafka_sasl", cfg.Kafka.SASLMechanism,
		"clickhouse", cfg.ClickHouse.Addr, "clickhouse_http", cfg.ClickHouse.HTTPAddrs(), "database", cfg.ClickHouse.DB(), "clickhouse_user", cfg.ClickHouse.Username(),
		"clickhouse_tls", cfg.ClickHouse.TLS, "drain", cfg.Drain, "batch_rows", cfg.BatchRows,
		"batch_bytes", cfg.BatchBytes, "flush_age", cfg.FlushAge, "memory_budget", cfg.MemoryBudget)

	// hard outlives ctx by the shutdown deadline: the final flush and
	// commit run on it.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	stopDeadline := context.AfterFunc(ctx, func() {
		time.AfterFunc(cfg.ShutdownTimeout, cancelHard)
	})
	defer stopDeadline()

	conn, err := in.connect(ctx)
	if err != nil {
		return err
	}

	transport, err := kafkaio.Transport(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("ingest: kafka transport: %w", err)
	}
	defer transport.CloseIdleConnections()
	dlqTopic := cfg.Kafka.Topics.DLQTopic()
	in.dlqLimit = dlqRecordLimit(in.maxMessageBytes(ctx, []string{dlqTopic}))
	in.batchMax = in.maxMessageBytes(ctx, in.topics)
	in.log.Info("kafka limits", "dlq_record_limit", in.dlqLimit, "source_max_message_bytes", in.batchMax)
	dlq := newDLQWriter(cfg.Kafka.Brokers, dlqTopic, transport, in.dlqLimit)
	defer dlq.Close()

	ins, err := chconn.NewInserter(cfg.ClickHouse)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer ins.Close()
	in.mu.Lock()
	in.ins = ins
	in.mu.Unlock()
	w := &writer{ins: ins, dlq: dlq, log: in.log, m: in.m, min: cfg.BackoffMin, max: cfg.BackoffMax}
	in.sink = newSink(in.budget, cfg.BatchRows, cfg.BatchBytes, w.flush)
	in.sink.start(hard)
	go in.ageFlusher(hard)
	go in.reportProgress(hard, conn)

	soft, cancelSoft := context.WithCancel(ctx)
	defer cancelSoft()
	var drained atomic.Bool
	if cfg.Drain {
		admin, err := kafkaio.NewAdmin(cfg.Kafka)
		if err != nil {
			return fmt.Errorf("ingest: kafka admin: %w", err)
		}
		defer admin.Close()
		target, err := in.drainTargetRetry(ctx, admin)
		if err != nil {
			return err
		}
		go func() {
			if in.waitDrained(soft, admin, target) == nil {
				drained.Store(true)
				in.drainedAt.Store(time.Now().UnixNano())
				st := in.Stats()
				active := 0.0
				if !st.FirstFetch.IsZero() {
					active = st.Drained.Sub(st.FirstFetch).Seconds()
				}
				in.log.Info("drain complete: every partition committed up to its end offset at start",
					"consumed", st.Consumed, "active_seconds", active)
				cancelSoft()
			}
		}()
	}

	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:          cfg.GroupID,
		Brokers:     cfg.Kafka.Brokers,
		Dialer:      in.dialer,
		Topics:      in.topics,
		StartOffset: kafka.FirstOffset,
		// Re-join quickly after errors (default 5s): outages and crashed
		// peers should not stall the group for long.
		JoinGroupBackoff:  time.Second,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  cfg.ShutdownTimeout,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { in.log.Debug("kafka group: " + fmt.Sprintf(f, a...)) }),
	})
	if err != nil {
		return fmt.Errorf("ingest: consumer group %s: %w", cfg.GroupID, err)
	}
	// Close ends the current generation (its final flush and commit run
	// first) and leaves the group.
	closed := make(chan struct{})
	go func() {
		<-soft.Done()
		_ = group.Close()
		close(closed)
	}()

	var final error
	for {
		gen, err := group.Next(context.Background())
		if errors.Is(err, kafka.ErrGroupClosed) {
			break
		}
		if err != nil {
			in.log.Warn("consumer group error; rejoining", "group", cfg.GroupID, "err", err)
			in.m.retries.WithLabelValues("join").Inc()
			continue
		}
		if err := in.generation(hard, gen); err != nil {
			final = err
		}
	}
	<-closed
	cancelHard()
	in.sink.wg.Wait()
	if final != nil && !drained.Load() {
		return final
	}
	in.log.Info("ingest stopped", "drained", drained.Load())
	return final
}

// connect opens ClickHouse and applies migrations, retrying until ctx ends:
// a ClickHouse that is down at start is waited for like one that fails later.
func (in *Ingester) connect(ctx context.Context) (driver.Conn, error) {
	bo := backoff{min: in.cfg.BackoffMin, max: min(in.cfg.BackoffMax, 5*time.Second)}
	for {
		conn, err := in.tryConnect(ctx)
		if err == nil {
			in.mu.Lock()
			in.conn = conn
			in.mu.Unlock()
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ingest: connect to clickhouse: %w", ctx.Err())
		}
		d := bo.next()
		in.m.retries.WithLabelValues("connect").Inc()
		in.log.Warn("clickhouse not ready; retrying", "addr", in.cfg.ClickHouse.Addr, "err", err, "retry_in", d)
		if err := sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("ingest: connect to clickhouse: %w", err)
		}
	}
}

func (in *Ingester) tryConnect(ctx context.Context) (driver.Conn, error) {
	if err := chconn.EnsureDatabase(ctx, in.cfg.ClickHouse); err != nil {
		return nil, err
	}
	conn, err := chconn.Open(ctx, in.cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	if !in.cfg.NoMigrate {
		if _, err := migrations.Apply(ctx, conn, migrations.Options{Database: in.cfg.ClickHouse.DB()}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("apply migrations: %w", err)
		}
	}
	return conn, nil
}

func (in *Ingester) ageFlusher(ctx context.Context) {
	tick := time.NewTicker(max(in.cfg.FlushAge/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			in.sink.flushOld(in.cfg.FlushAge)
		}
	}
}

// assignment is one partition of a generation.
type assignment struct {
	topic     string
	partition int
	offset    int64 // start offset: committed, or kafka.FirstOffset
}

// generation consumes gen's assignments until the generation ends, then
// flushes everything and commits, so the next owner of each partition starts
// exactly after what is stored.
func (in *Ingester) generation(hard context.Context, gen *kafka.Generation) error {
	var parts []assignment
	for topic, as := range gen.Assignments {
		for _, a := range as {
			parts = append(parts, assignment{topic: topic, partition: a.ID, offset: a.Offset})
		}
	}
	slices.SortFunc(parts, func(a, b assignment) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	committed := make([]int64, len(parts))
	for i, p := range parts {
		committed[i] = max(p.offset, -1)
	}
	in.sink.reset(len(parts))
	in.progress.reset(gen.MemberID, parts)
	plan := planFetch(in.fetch.cap, len(parts), in.cfg.FetchMaxBytes, in.batchMax)
	in.m.assigned.Set(float64(len(parts)))
	in.log.Info("generation started", "generation", gen.ID, "member", gen.MemberID, "partitions", len(parts),
		"fetch_bytes", plan.maxBytes, "fetch_reserve", plan.reserve)
	in.joined.Store(true)
	defer in.joined.Store(false)

	var tail *drainTail
	if in.cfg.Drain {
		tail = &drainTail{readers: int64(len(parts)), flush: func() { in.sink.flushOld(0) }}
	}
	var readers sync.WaitGroup
	for i, p := range parts {
		readers.Add(1)
		gen.Start(func(ctx context.Context) {
			defer readers.Done()
			in.read(ctx, i, p, plan, tail)
		})
	}
	var final error
	done := make(chan struct{})
	gen.Start(func(ctx context.Context) {
		defer close(done)
		final = in.coordinate(ctx, hard, gen, parts, committed, &readers)
	})
	<-done
	return final
}

// coordinate commits done offsets every CommitInterval while the generation
// lasts, and at its end waits for the readers, flushes and commits.
func (in *Ingester) coordinate(ctx, hard context.Context, gen *kafka.Generation, parts []assignment, committed []int64, readers *sync.WaitGroup) error {
	tick := time.NewTicker(in.cfg.CommitInterval)
	defer tick.Stop()
	// Commit soon after flushes complete too (at most every 100ms), so a
	// drain or a rebalance does not wait a whole CommitInterval.
	var last time.Time
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			in.commit(gen, parts, committed)
			last = time.Now()
		case <-in.sink.changes():
			if wait := 100*time.Millisecond - time.Since(last); wait > 0 {
				if sleep(ctx, wait) != nil {
					continue
				}
			}
			in.commit(gen, parts, committed)
			last = time.Now()
		}
	}
	readers.Wait()
	start := time.Now()
	if err := in.sink.barrier(hard); err != nil {
		in.log.Error("final flush incomplete before the shutdown deadline; uncommitted messages will be delivered again",
			"generation", gen.ID, "err", err)
		return fmt.Errorf("ingest: final flush of generation %d: %w", gen.ID, err)
	}
	in.commit(gen, parts, committed)
	in.log.Info("generation ended", "generation", gen.ID, "flush", time.Since(start).Round(time.Millisecond))
	return nil
}

// commit commits, for every partition that advanced, the offset below
// which every message is stored.
func (in *Ingester) commit(gen *kafka.Generation, parts []assignment, committed []int64) {
	done := in.sink.done()
	offsets := map[string]map[int]int64{}
	for i, p := range parts {
		if done[i] > committed[i] {
			if offsets[p.topic] == nil {
				offsets[p.topic] = map[int]int64{}
			}
			offsets[p.topic][p.partition] = done[i]
		}
	}
	if len(offsets) == 0 {
		return
	}
	if err := gen.CommitOffsets(offsets); err != nil {
		// The next commit carries the same or higher offsets; if the
		// generation is gone, the next owner re-reads and replays harmlessly.
		in.m.retries.WithLabelValues("commit").Inc()
		in.log.Warn("commit offsets failed", "generation", gen.ID, "err", err)
		return
	}
	in.m.commits.Inc()
	for i, p := range parts {
		if o, ok := offsets[p.topic][p.partition]; ok {
			committed[i] = o
			in.progress.committed(i, o)
		}
	}
}
