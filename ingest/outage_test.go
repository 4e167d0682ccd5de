package ingest_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/testenv"
)

// TestClickHouseOutage stops a dedicated ClickHouse server for several
// seconds while events keep arriving: the ingester retries, holds its
// memory budget (fetching waits), commits nothing past what is stored,
// never exits, and after the restart stores everything exactly once.
func TestClickHouseOutage(t *testing.T) {
	t.Parallel()
	srv := testenv.ClickHouseServer(t)
	kc := testenv.Kafka(t)
	cc := srv.Config(testenv.DatabaseName(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := chconn.EnsureDatabase(ctx, cc); err != nil {
		t.Fatal(err)
	}

	d := makeDataset(t, kc.Topics, 15000, 500, "outage")
	first, second := d.msgs[:len(d.msgs)/3], d.msgs[len(d.msgs)/3:]
	produce(t, kc, first)

	cfg := testConfig(t, kc, cc, groupName(t))
	cfg.MemoryBudget = 4 << 20
	cfg.BackoffMax = 500 * time.Millisecond
	in, err := ingest.New(cfg) // migrations applied by Run
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx) }()
	base := "http://" + in.Addr()
	metric := func(name string) float64 {
		_, body := httpGet(t, base+"/metrics")
		return sumMetric(body, name)
	}
	alive := func() {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("ingester exited: %v", err)
		default:
		}
	}

	waitUntil(t, time.Minute, "first wave stored", func() bool {
		alive()
		return metric("impact_ingest_inserted_total") >= float64(len(first)-len(d.invalid))
	})

	t.Logf("first wave stored; stopping ClickHouse")
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse stopped")
	produce(t, kc, second)
	// While ClickHouse is down: retries climb, readiness fails, in-flight
	// bytes stay within the budget and fetching stalls.
	waitUntil(t, 30*time.Second, "insert retries", func() bool { alive(); return metric("impact_ingest_retries_total") > 0 })
	if code, _ := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d during the outage, want 503", code)
	}
	time.Sleep(3 * time.Second)
	consumed := metric("impact_ingest_events_consumed_total")
	// A fetch may bring one record batch beyond its reservation (KIP-74:
	// the broker returns the first batch whole), charged after the fact
	// (docs/ingest.md, "Memory bound"): at most max.message.bytes, 1 MiB
	// by default, here.
	if inflight := metric("impact_ingest_inflight_bytes"); inflight > float64(cfg.MemoryBudget+1<<20) {
		t.Errorf("in-flight bytes %v over the budget %d + one record batch", inflight, cfg.MemoryBudget)
	}
	time.Sleep(2 * time.Second)
	if again := metric("impact_ingest_events_consumed_total"); again != consumed {
		t.Errorf("fetching did not pause during the outage: consumed %v then %v", consumed, again)
	}
	if consumed >= float64(len(d.msgs)) {
		t.Errorf("consumed all %v messages during the outage: the budget did not hold fetching back", consumed)
	}
	alive()
	t.Logf("outage: consumed %v of %d, retries %v", consumed, len(d.msgs), metric("impact_ingest_retries_total"))

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse restarted")
	deadline := time.Now().Add(4 * time.Minute)
	for !caughtUp(t, kc, cfg.GroupID) {
		alive()
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<22)
			buf = buf[:runtime.Stack(buf, true)]
			_ = os.WriteFile(filepath.Join(os.TempDir(), "ingest-outage-stacks.txt"), buf, 0o644)
			_, body := httpGet(t, base+"/metrics")
			t.Fatalf("not caught up 4m after the outage; goroutines in %s/ingest-outage-stacks.txt; metrics:\n%s", os.TempDir(), body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("caught up")
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	conn := openCH(t, cc)
	checkStored(t, conn, d)
	checkCommitted(t, kc, cfg.GroupID)
}
