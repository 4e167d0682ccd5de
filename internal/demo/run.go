package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/dashboards"
	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// Validate names the first bad field. Zero values are the defaults; a
// negative Days or Scale is an error, not silently the default.
func (o Options) Validate() error {
	switch {
	case o.Days < 0:
		return fmt.Errorf("demo options: Days %d is negative", o.Days)
	case o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0):
		return fmt.Errorf("demo options: Scale %v is not a volume multiplier (0 means 1)", o.Scale)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Days == 0 {
		o.Days = 365
	}
	if o.Out == "" {
		o.Out = "out"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o
}

// run is one demo run: the summary it fills and what each stage hands on
// to the next.
type run struct {
	o   Options
	p   *progress
	sum Summary

	kc      config.Kafka
	cc      config.ClickHouse
	conn    driver.Conn
	truth   *simulate.Truth
	sent    int64  // events published
	raw     uint64 // rows of events_raw after ingest
	rejects uint64 // rows of ingest_rejects after ingest

	// undo holds what to stop or remove when Run returns, in the order it
	// was started; it is undone last first.
	undo []func()
}

// Run performs the demo, one stage after the other (see the stages of
// run). Missing prerequisites come back as one sentence naming the
// command that fixes them (chlocal.ErrNotInstalled).
func Run(ctx context.Context, o Options) (Summary, error) {
	if err := o.Validate(); err != nil {
		return Summary{}, err
	}
	began := time.Now()
	o = o.withDefaults()
	r := &run{o: o, p: newProgress(o.Live, o.Progress, o.Logger, stageCount)}
	defer func() {
		for i := len(r.undo) - 1; i >= 0; i-- {
			r.undo[i]()
		}
	}()
	r.sum.Seed, r.sum.Days = o.Seed, o.Days
	for _, stage := range []func(context.Context) error{
		r.output, r.servers, r.migrate, r.produce, r.ingest, r.transform, r.dashboards, r.brief, r.findings,
	} {
		if err := stage(ctx); err != nil {
			r.p.fail()
			return r.sum, err
		}
	}
	r.sum.Seconds = round(time.Since(began).Seconds(), 3)
	if o.Ready != nil {
		o.Ready(r.sum)
	}
	if o.Keep {
		<-ctx.Done()
	}
	if r.sum.ClickHouse.Local {
		// Removing a server's many part files can take seconds on a busy disk.
		o.Logger.Info("demo: stopping the local ClickHouse and removing its data", "dir", r.sum.ClickHouse.Dir)
	}
	return r.sum, nil
}

// end closes the current stage of the progress display and records it.
func (r *run) end(counts map[string]int64) {
	name := r.p.name
	d := r.p.end(counts)
	r.sum.Stages = append(r.sum.Stages, Stage{Name: name, Seconds: round(d.Seconds(), 3), Counts: counts})
}

// output creates the output directory and names the files written there.
func (r *run) output(context.Context) error {
	out, err := filepath.Abs(r.o.Out)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", r.o.Out, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	r.sum.Paths = Paths{Out: out, Truth: filepath.Join(out, "truth.json"), Brief: filepath.Join(out, "brief.html"), Grafana: filepath.Join(out, "grafana")}
	return nil
}

// servers starts an embedded Kafka and a local ClickHouse server, or uses
// the configured ones (with topics of this run alone on a shared Kafka).
func (r *run) servers(ctx context.Context) error {
	r.p.begin("servers", nil)
	r.kc, r.cc = r.o.Kafka, r.o.ClickHouse
	suffix := ""
	if len(r.kc.Brokers) == 0 {
		emb, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{Topics: append(r.kc.Topics.Sources(), r.kc.Topics.DLQTopic()), Partitions: kafkalocal.DefaultPartitions})
		if err != nil {
			return fmt.Errorf("start embedded Kafka: %w", err)
		}
		r.undo = append(r.undo, func() { emb.Close() })
		r.kc.Brokers = emb.Brokers()
		r.sum.Kafka.Embedded = true
	} else {
		suffix = fmt.Sprintf(".demo-%d", time.Now().UnixNano())
		r.kc.Topics = r.kc.Topics.WithSuffix(suffix)
		topics := append(r.kc.Topics.Sources(), r.kc.Topics.DLQTopic())
		if err := kafkalocal.CreateTopics(ctx, r.kc, topics, kafkalocal.DefaultPartitions); err != nil {
			return fmt.Errorf("create demo topics on %s: %w", strings.Join(r.kc.Brokers, ","), err)
		}
		kc := r.kc
		r.undo = append(r.undo, func() { dropTopics(kc, topics, r.o.Logger) })
	}
	r.sum.Kafka.Brokers, r.sum.Kafka.Topics, r.sum.Kafka.Group = r.kc.Brokers, append(r.kc.Topics.Sources(), r.kc.Topics.DLQTopic()), "impact-demo"+suffix
	if r.cc.Addr == "" {
		srv, err := chlocal.Start(ctx, chlocal.Options{Binary: r.o.ClickHouseBinary})
		if err != nil {
			if errors.Is(err, chlocal.ErrNotInstalled) {
				return chlocal.ErrNotInstalled
			}
			return fmt.Errorf("start local ClickHouse: %w", err)
		}
		r.undo = append(r.undo, func() { srv.Close() })
		r.cc = srv.Config(r.cc.Database)
		r.sum.ClickHouse = CHInfo{Addr: srv.Addr(), HTTPAddr: srv.HTTPAddr(), Local: true, ReaderUser: chlocal.ReaderUser, Dir: srv.Dir()}
	} else {
		r.sum.ClickHouse = CHInfo{Addr: r.cc.Addr}
	}
	r.cc.Database = r.cc.DB()
	r.sum.ClickHouse.Database = r.cc.Database
	r.end(nil)
	return nil
}

// migrate creates the database and applies the migrations.
func (r *run) migrate(ctx context.Context) error {
	r.p.begin("migrate", nil)
	conn, applied, err := prepare(ctx, r.cc, !r.sum.ClickHouse.Local)
	if err != nil {
		return err
	}
	r.conn = conn
	r.undo = append(r.undo, func() { conn.Close() })
	r.end(map[string]int64{"migrations": int64(applied)})
	return nil
}

// produce simulates the organisation, publishes its events to Kafka and
// writes the simulation's truth.
func (r *run) produce(ctx context.Context) error {
	w, err := kafkaio.NewWriter(r.kc)
	if err != nil {
		return fmt.Errorf("kafka writer: %w", err)
	}
	var produced atomic.Int64
	r.p.begin("produce", func() string {
		produced.Add(w.Stats().Messages) // Stats resets its counters on every call
		return thousands(produced.Load()) + " events produced"
	})
	truth, pst, err := simulate.Publish(ctx, w, simulate.Options{Seed: r.o.Seed, Days: r.o.Days, Scale: r.o.Scale}, kafkaio.PublishOptions{Topics: r.kc.Topics})
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close kafka writer: %w", cerr)
	}
	if err != nil {
		return err
	}
	r.truth, r.sent = truth, int64(pst.Published)
	r.sum.Start, r.sum.End = truth.Start, truth.End
	if err := writeJSON(r.sum.Paths.Truth, truth); err != nil {
		return err
	}
	r.end(map[string]int64{"events_produced": r.sent, "valid_events": int64(truth.Delivery.ValidEvents), "invalid_lines": int64(truth.Delivery.Invalid)})
	return nil
}

// ingest runs the consumer group until every partition is drained.
func (r *run) ingest(ctx context.Context) error {
	in, err := ingest.New(ingest.Config{
		Kafka: r.kc, ClickHouse: r.cc, GroupID: r.sum.Kafka.Group, Drain: true, NoMigrate: true,
		FlushAge: 300 * time.Millisecond, CommitInterval: 200 * time.Millisecond, BackoffMax: 2 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	r.undo = append(r.undo, func() { in.Close() })
	r.p.begin("ingest", func() string {
		// Consumed includes redeliveries, so it may pass the published count.
		return fmt.Sprintf("%s messages read, %s published", thousands(in.Stats().Consumed), thousands(r.sent))
	})
	ictx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	err = in.Run(ictx)
	cancel()
	if err != nil {
		return fmt.Errorf("ingest --drain: %w", err)
	}
	if r.raw, err = count(ctx, r.conn, "events_raw.sql"); err != nil {
		return err
	}
	if r.rejects, err = count(ctx, r.conn, "rejects.sql"); err != nil {
		return err
	}
	r.end(map[string]int64{"events_consumed": in.Stats().Consumed, "events_stored": int64(r.raw), "rejected": int64(r.rejects)})
	return nil
}

// transform refreshes the analyst tables once, as of the end of the
// simulated window.
func (r *run) transform(ctx context.Context) error {
	r.p.begin("transform", nil)
	tlog := slog.New(slog.DiscardHandler)
	if !r.o.Live {
		tlog = r.o.Logger
	}
	rep, err := transform.Refresh(ctx, r.conn, transform.Options{AsOf: r.truth.End, Full: true, Logger: tlog})
	if err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	var built int64
	for _, t := range rep.Tables {
		built += int64(t.Rows)
	}
	r.end(map[string]int64{"rows_built": built, "deal_facts": int64(rep.Rows("deal_facts")), "impact_stats": int64(rep.Rows(transform.StatsTable))})
	return nil
}

// dashboards exports the Grafana provisioning directory.
func (r *run) dashboards(context.Context) error {
	r.p.begin("dashboards", nil)
	files, err := dashboards.Export(r.sum.Paths.Grafana, dashboards.ExportOptions{})
	if err != nil {
		return fmt.Errorf("export dashboards: %w", err)
	}
	r.sum.Paths.Files = files
	r.end(map[string]int64{"files": int64(len(files))})
	return nil
}

// brief writes the executive brief for the last full quarter of the
// simulated window.
func (r *run) brief(ctx context.Context) error {
	r.p.begin("brief", nil)
	period := brief.LastFullQuarter(r.truth.End)
	r.sum.Period = PeriodJSON{From: period.From, To: period.To}
	data, err := brief.Load(ctx, r.conn, period, brief.LoadOptions{Organisation: fmt.Sprintf("Simulated organisation (seed %d)", r.o.Seed), Now: r.o.Now})
	if err != nil {
		return err
	}
	if err := writeBrief(r.sum.Paths.Brief, data); err != nil {
		return err
	}
	for _, f := range data.Headlines {
		r.sum.Brief = append(r.sum.Brief, BriefFigure{Title: f.Title, Estimate: ptr(f.Estimate), Low: ptr(f.Low), High: ptr(f.High),
			N: f.N, Unit: f.Unit, Evidence: f.Evidence, Period: f.Period})
	}
	r.end(map[string]int64{"figures": int64(len(data.Headlines))})
	return nil
}

// findings reads the headline figures and checks them against the
// simulation's truth.
func (r *run) findings(ctx context.Context) error {
	if err := headlines(ctx, r.conn, &r.sum); err != nil {
		return err
	}
	return checks(ctx, r.conn, &r.sum, r.truth, r.sent, r.raw, r.rejects)
}
