// Package bench measures ingest throughput on one set of generated events:
// the raw Kafka fetch rate (partition readers, no processing), the raw
// ClickHouse insert rate of the same rows (batched native inserts, no
// Kafka) and the end-to-end rate of `impact ingest --drain` on a fresh
// consumer group, run as a child process so its peak RSS is its own.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
	"github.com/secimpact/impact/internal/rss"
	"github.com/secimpact/impact/schemas/migrations"
)

// Options configure Run. The zero value (plus Exe) benchmarks 100,000
// events on an embedded Kafka and a local ClickHouse started for the run.
type Options struct {
	Events int // default 100,000
	// Kafka and ClickHouse are used when their address is set; otherwise
	// an embedded Kafka (kfake) and a local ClickHouse (chlocal) are started.
	Kafka      config.Kafka
	ClickHouse config.ClickHouse
	// Partitions per source topic; default 3.
	Partitions int
	// Exe is the impact binary that runs the pipeline phase
	// (`Exe ingest --drain`); required.
	Exe string
	// IngestArgs are extra arguments for the pipeline child (e.g.
	// --memory-budget-mib 64, --cpuprofile FILE).
	IngestArgs []string
	// Log receives progress lines; default discards.
	Log *slog.Logger
	// ChildLog, when set, receives the pipeline child's stderr.
	ChildLog io.Writer
}

// Result holds the figures of one run; the JSON keys are the CLI contract.
type Result struct {
	Events           int     `json:"events"`
	PipelineEPS      float64 `json:"pipeline_eps"`
	KafkaRawEPS      float64 `json:"kafka_raw_eps"`
	ClickHouseRawEPS float64 `json:"clickhouse_raw_eps"`
	Ratio            float64 `json:"ratio"` // pipeline / min(raw rates)
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`
	// PipelineWallSeconds is the child's whole run (start, join, drain,
	// shutdown); PipelineEPS uses the active time from the first fetch to
	// drain completion.
	PipelineWallSeconds   float64 `json:"pipeline_wall_seconds"`
	PipelineActiveSeconds float64 `json:"pipeline_active_seconds"`
	// PipelineCPUSeconds is the child's user+system CPU time: compared with
	// the active time it shows how much of the run the ingester itself
	// computed and how much it waited (on ClickHouse, on Kafka).
	PipelineCPUSeconds float64 `json:"pipeline_cpu_seconds"`
	// ClickHouseCPUSeconds is the ClickHouse server's CPU time during the
	// pipeline phase (only for the local server the benchmark starts), and
	// KafkaCPUSeconds the embedded Kafka's (this process's, which does
	// nothing else meanwhile): with PipelineCPUSeconds, where the
	// pipeline's CPU goes on a machine that runs all three.
	ClickHouseCPUSeconds float64 `json:"clickhouse_cpu_seconds,omitempty"`
	KafkaCPUSeconds      float64 `json:"kafka_cpu_seconds,omitempty"`
	ProduceEPS           float64 `json:"produce_eps"`
	KafkaMode            string  `json:"kafka"`
	Partitions           int     `json:"partitions_per_topic"`
	CPUs                 int     `json:"cpus"`
	RSSNote              string  `json:"rss_note"`
}

// Run performs the three measurements.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Events <= 0 {
		opts.Events = 100_000
	}
	if opts.Partitions <= 0 {
		opts.Partitions = kafkalocal.DefaultPartitions
	}
	if opts.Exe == "" {
		return nil, errors.New("bench: no impact binary for the pipeline phase")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res := &Result{Events: opts.Events, Partitions: opts.Partitions, CPUs: runtime.NumCPU(), KafkaMode: "configured"}

	kc := opts.Kafka
	if len(kc.Brokers) == 0 {
		emb, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{Partitions: opts.Partitions})
		if err != nil {
			return nil, fmt.Errorf("bench: start embedded kafka: %w", err)
		}
		defer emb.Close()
		kc.Brokers = emb.Brokers()
		res.KafkaMode = "embedded"
	}
	// A suffix of our own so a configured cluster's real topics are never touched.
	suffix := fmt.Sprintf(".bench.%d.%d", os.Getpid(), time.Now().UnixNano())
	kc.Topics = kc.Topics.WithSuffix(suffix)

	cc := opts.ClickHouse
	ownServer := cc.Addr == ""
	serverPID := ""
	if ownServer {
		srv, err := chlocal.Start(ctx, chlocal.Options{})
		if err != nil {
			return nil, fmt.Errorf("bench: start local clickhouse: %w", err)
		}
		defer srv.Close()
		cc = srv.Config("")
		serverPID = strconv.Itoa(srv.PID())
	}
	pipeDB, rawDB := cc, cc
	pipeDB.Database = "bench_pipeline_" + strconv.Itoa(os.Getpid())
	rawDB.Database = "bench_raw_" + strconv.Itoa(os.Getpid())
	for _, db := range []config.ClickHouse{pipeDB, rawDB} {
		if err := freshDatabase(ctx, db); err != nil {
			return nil, err
		}
		if !ownServer { // a server of our own is removed whole, and faster
			defer func() { _ = chconn.DropDatabase(context.WithoutCancel(ctx), db) }()
		}
	}

	topics := append(kc.Topics.Sources(), kc.Topics.DLQTopic())
	if err := kafkalocal.CreateTopics(ctx, kc, topics, opts.Partitions); err != nil {
		return nil, fmt.Errorf("bench: create topics: %w", err)
	}

	log.Info("generating events", "events", opts.Events)
	msgs := eventgen.Generate(opts.Events, kc.Topics, eventgen.Options{Seed: 2026})
	start := time.Now()
	if err := produce(ctx, kc, msgs); err != nil {
		return nil, err
	}
	res.ProduceEPS = float64(len(msgs)) / time.Since(start).Seconds()
	log.Info("produced", "events", len(msgs), "eps", int(res.ProduceEPS))

	n, secs, err := fetchAll(ctx, kc)
	if err != nil {
		return nil, err
	}
	if n != len(msgs) {
		return nil, fmt.Errorf("bench: raw fetch read %d messages, produced %d", n, len(msgs))
	}
	res.KafkaRawEPS = float64(n) / secs
	log.Info("raw kafka fetch", "events", n, "eps", int(res.KafkaRawEPS))

	secs, err = insertAll(ctx, rawDB, msgs)
	if err != nil {
		return nil, err
	}
	res.ClickHouseRawEPS = float64(len(msgs)) / secs
	log.Info("raw clickhouse insert", "events", len(msgs), "eps", int(res.ClickHouseRawEPS))
	// The raw phase's parts would be merged in the background while the
	// pipeline runs, so their merges are stopped. They are not dropped
	// until the end: removing tens of thousands of part files just before
	// the pipeline made its every new file cost more (on ext4 without a
	// journal, a new inode skips the recently deleted ones one by one: a
	// third of the server's CPU samples in the pipeline phase).
	if err := chconn.StopMerges(ctx, rawDB); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	// Nor should the pipeline phase compete with the generated messages
	// (dead from here).
	runtime.GC()

	cpu0 := cpuTimes(serverPID)
	if err := pipeline(ctx, opts, kc, pipeDB, res); err != nil {
		return nil, err
	}
	cpu1 := cpuTimes(serverPID)
	res.ClickHouseCPUSeconds = cpu1.server - cpu0.server
	if res.KafkaMode == "embedded" {
		res.KafkaCPUSeconds = cpu1.self - cpu0.self
	}
	res.Ratio = res.PipelineEPS / min(res.KafkaRawEPS, res.ClickHouseRawEPS)
	res.RSSNote = "VmHWM of the `impact ingest --drain` child process alone; Kafka (kfake, in the bench process) and ClickHouse run outside it"
	log.Info("pipeline", "eps", int(res.PipelineEPS), "ratio", res.Ratio, "peak_rss_mib", res.PeakRSSBytes>>20)
	return res, nil
}

// cpu is CPU seconds used so far by this process and the ClickHouse server
// (0 when serverPID is empty or unreadable).
type cpu struct{ self, server float64 }

func cpuTimes(serverPID string) cpu {
	var c cpu
	c.self, _ = rss.CPUOf("self")
	if serverPID != "" {
		c.server, _ = rss.CPUOf(serverPID)
	}
	return c
}

func freshDatabase(ctx context.Context, cc config.ClickHouse) error {
	if err := chconn.DropDatabase(ctx, cc); err != nil {
		return fmt.Errorf("bench: drop %s: %w", cc.Database, err)
	}
	if err := chconn.EnsureDatabase(ctx, cc); err != nil {
		return fmt.Errorf("bench: create %s: %w", cc.Database, err)
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer conn.Close()
	if _, err := migrations.Apply(ctx, conn, migrations.Options{Database: cc.Database}); err != nil {
		return fmt.Errorf("bench: migrate %s: %w", cc.Database, err)
	}
	return nil
}

func produce(ctx context.Context, kc config.Kafka, msgs []kafka.Message) error {
	tr, err := kafkaio.Transport(kc)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(kc.Brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		// Producer batches of 1,000 like a busy real source; the consumer
		// decompresses a whole batch at a time, so huge batches would
		// inflate the ingester's memory unrealistically.
		BatchSize:    1000,
		BatchBytes:   16 << 20,
		BatchTimeout: 10 * time.Millisecond,
		Compression:  kafka.Lz4,
		Transport:    tr,
	}
	defer w.Close()
	for len(msgs) > 0 {
		n := min(len(msgs), 50_000)
		if err := w.WriteMessages(ctx, msgs[:n]...); err != nil {
			return fmt.Errorf("bench: produce: %w", err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// fetchAll reads every source partition to its end offset with one
// kafka-go partition reader each, configured like the ingester's, doing
// nothing with the messages.
func fetchAll(ctx context.Context, kc config.Kafka) (int, float64, error) {
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	defer admin.Close()
	ends, err := admin.EndOffsets(ctx, kc.Topics.Sources())
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	dialer, err := kafkaio.Dialer(kc)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	var (
		g     errgroup.Group
		mu    sync.Mutex
		total int
	)
	start := time.Now()
	for topic, ps := range ends {
		for p, end := range ps {
			if end == 0 {
				continue
			}
			g.Go(func() error {
				r := kafka.NewReader(kafka.ReaderConfig{
					Brokers: kc.Brokers, Topic: topic, Partition: p, Dialer: dialer,
					MinBytes: 1, MaxBytes: ingest.DefaultFetchMaxBytes, MaxWait: 250 * time.Millisecond,
					QueueCapacity: 256, // kafka-go's default: raw fetch speed, no budget
				})
				defer r.Close()
				n := 0
				for {
					m, err := r.FetchMessage(ctx)
					if err != nil {
						return fmt.Errorf("bench: fetch %s/%d: %w", topic, p, err)
					}
					n++
					if m.Offset+1 >= end {
						break
					}
				}
				mu.Lock()
				total += n
				mu.Unlock()
				return nil
			})
		}
	}
	err = g.Wait()
	return total, time.Since(start).Seconds(), err
}

// pipeline runs `impact ingest --drain` on a fresh group as a child and
// reads its active time from its drain log line and its peak RSS from the
// kernel's accounting of the child.
func pipeline(ctx context.Context, opts Options, kc config.Kafka, cc config.ClickHouse, res *Result) error {
	args := append([]string{"ingest", "--drain", "--listen", "", "--no-migrate",
		"--group", "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)}, opts.IngestArgs...)
	cmd := exec.CommandContext(ctx, opts.Exe, args...)
	cmd.Env = append(os.Environ(),
		"IMPACT_KAFKA_BROKERS="+strings.Join(kc.Brokers, ","),
		"IMPACT_TOPIC_SUFFIX="+strings.TrimPrefix(kc.Topics.Security, config.DefaultTopics().Security),
		"IMPACT_CLICKHOUSE_ADDR="+cc.Addr,
		"IMPACT_CLICKHOUSE_HTTP_ADDR="+cc.HTTPAddr,
		"IMPACT_CLICKHOUSE_USER="+cc.Username(),
		"IMPACT_CLICKHOUSE_PASSWORD="+cc.Password,
		"IMPACT_CLICKHOUSE_DATABASE="+cc.Database,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: start pipeline child: %w", err)
	}
	var tail []string
	active := 0.0
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if opts.ChildLog != nil {
			fmt.Fprintln(opts.ChildLog, line)
		}
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
		if m := activeRE.FindStringSubmatch(line); m != nil {
			active, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := peakRE.FindStringSubmatch(line); m != nil {
			res.PeakRSSBytes, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	err = cmd.Wait()
	res.PipelineWallSeconds = time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("bench: pipeline child: %w\n%s", err, strings.Join(tail, "\n"))
	}
	if active <= 0 {
		return fmt.Errorf("bench: pipeline child reported no drain time\n%s", strings.Join(tail, "\n"))
	}
	res.PipelineActiveSeconds = active
	res.PipelineCPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	res.PipelineEPS = float64(res.Events) / active
	if res.PeakRSSBytes == 0 {
		return fmt.Errorf("bench: pipeline child reported no peak RSS\n%s", strings.Join(tail, "\n"))
	}
	return nil
}

// The child reports its own VmHWM (internal/rss): ru_maxrss of a forked
// child would include this (large) parent's memory at exec time.
var peakRE = regexp.MustCompile(`peak_rss_bytes=([0-9]+)`)

var activeRE = regexp.MustCompile(`drain complete.* active_seconds=([0-9.e+-]+)`)

// insertAll inserts the rows of msgs straight into ClickHouse (no Kafka)
// and returns the seconds spent in inserts.
func insertAll(ctx context.Context, cc config.ClickHouse, msgs []kafka.Message) (float64, error) {
	ins, err := chconn.NewInserter(cc)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer ins.Close()
	d, err := ingest.InsertDirect(ctx, ins, msgs, ingest.DefaultBatchRows)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return d.Seconds(), nil
}
