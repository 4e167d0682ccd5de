package ingest

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /healthz (the process is alive), /readyz (member of a
// generation of the group, ClickHouse answers a ping, and no partition is
// stalled: lag past its committed offset with no commit for
// Config.StallTimeout) and /metrics.
func (in *Ingester) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := in.ready(r.Context()); err != "" {
			http.Error(w, err, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(in.m.reg, promhttp.HandlerOpts{}))
	return mux
}

// ready returns why the ingester is not ready, "" when it is.
func (in *Ingester) ready(ctx context.Context) string {
	if !in.joined.Load() {
		return "not a member of a consumer group generation\n"
	}
	in.mu.Lock()
	conn, ins := in.conn, in.ins
	in.mu.Unlock()
	if conn == nil || ins == nil {
		return "not connected to clickhouse\n"
	}
	if why := in.progress.stalled(in.cfg.StallTimeout); why != "" {
		return "stalled: " + why + "\n"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		return "clickhouse ping failed\n"
	}
	if err := ins.Ping(ctx); err != nil { // where the rows go
		return "clickhouse http ping failed\n"
	}
	return ""
}
