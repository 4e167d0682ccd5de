package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus series of one Ingester. Each Ingester has its
// own registry so two can run in one process (tests, the benchmark).
type metrics struct {
	reg *prometheus.Registry

	consumed  *prometheus.CounterVec   // topic
	inserted  *prometheus.CounterVec   // table
	rejected  *prometheus.CounterVec   // reason
	batchRows *prometheus.HistogramVec // table
	insertSec *prometheus.HistogramVec // table
	lag       *prometheus.GaugeVec     // topic, partition
	retries   *prometheus.CounterVec   // op
	commits   prometheus.Counter
	// dlqUndeliverable counts rejects the DLQ refused for good (last resort).
	dlqUndeliverable prometheus.Counter
	stalled          prometheus.GaugeFunc
	inFlight         prometheus.GaugeFunc
	assigned         prometheus.Gauge
}

func newMetrics(inFlight, stalled func() float64) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_ingest_events_consumed_total",
			Help: "Kafka messages fetched, by source topic.",
		}, []string{"topic"}),
		inserted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_ingest_inserted_total",
			Help: "Rows inserted into ClickHouse, by table.",
		}, []string{"table"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_ingest_rejected_total",
			Help: "Messages rejected to the dead-letter topic, by rule.",
		}, []string{"reason"}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "impact_ingest_batch_rows",
			Help:    "Rows per ClickHouse insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262144
		}, []string{"table"}),
		insertSec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "impact_ingest_insert_duration_seconds",
			Help:    "Duration of successful ClickHouse batch inserts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"table"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "impact_ingest_consumer_lag",
			Help: "Messages between the offset this member last committed and the high watermark of the last fetch, per partition.",
		}, []string{"topic", "partition"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_ingest_retries_total",
			Help: "Retried operations (insert, dlq, commit, fetch) after a failure.",
		}, []string{"op"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "impact_ingest_commits_total",
			Help: "Successful offset commits.",
		}),
		dlqUndeliverable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "impact_ingest_dlq_undeliverable_total",
			Help: "Rejects the dead-letter topic refused for good (too large, invalid): kept in ingest_rejects only, with a note in the detail.",
		}),
		stalled: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "impact_ingest_stalled",
			Help: "1 when a partition has lag and its committed offset has not advanced for the stall timeout (/readyz fails), else 0.",
		}, stalled),
		inFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "impact_ingest_inflight_bytes",
			Help: "Memory budget bytes in use: fetch reservations plus messages fetched but not yet stored.",
		}, inFlight),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "impact_ingest_assigned_partitions",
			Help: "Partitions assigned to this member in the current generation.",
		}),
	}
	m.reg.MustRegister(m.consumed, m.inserted, m.rejected, m.batchRows, m.insertSec,
		m.lag, m.retries, m.commits, m.inFlight, m.assigned, m.dlqUndeliverable, m.stalled)
	return m
}
