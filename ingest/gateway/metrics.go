package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, on a registry of its own so
// two gateways can run in one process (tests, the benchmark).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // source, outcome
	results  *prometheus.CounterVec   // source, result
	events   *prometheus.CounterVec   // source, type
	unmapped *prometheus.CounterVec   // source, key
	publish  *prometheus.HistogramVec // source
	duration *prometheus.HistogramVec // source
	inFlight prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_gateway_requests_total",
			Help: "Requests by source and outcome: accepted (events published), ignored, unmapped, unauthorized, not_found (source disabled), too_large, rate_limited, bad_request, unavailable (Kafka or a vendor API down).",
		}, []string{"source", "outcome"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_gateway_mapping_results_total",
			Help: "Authenticated deliveries by mapping result: mapped, ignored, unmapped (a picklist value the mapping file does not cover), invalid.",
		}, []string{"source", "result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_gateway_events_published_total",
			Help: "Contract events published, by source and event type.",
		}, []string{"source", "type"}),
		unmapped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impact_gateway_unmapped_values_total",
			Help: "Source values no mapping-file picklist covers, by picklist key (the log has the value and the line to add).",
		}, []string{"source", "key"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "impact_gateway_publish_duration_seconds",
			Help:    "Time from handing a delivery's messages to the Kafka writer to the acknowledgement by all in-sync replicas.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"source"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "impact_gateway_request_duration_seconds",
			Help:    "Request handling time, body read to response.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"source"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "impact_gateway_requests_in_flight",
			Help: "Requests being handled.",
		}),
	}
	m.reg.MustRegister(m.requests, m.results, m.events, m.unmapped, m.publish, m.duration, m.inFlight)
	return m
}
