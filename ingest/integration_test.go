package ingest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/testenv"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIngestDrain is the integration test of issue 3: valid, invalid and
// duplicate events across the five topics; afterwards every valid event is
// stored exactly once (FINAL), every invalid one is in the DLQ and
// ingest_rejects with its reason, and committed offsets equal end offsets.
// It also checks health, readiness, metrics and that no secret is logged.
func TestIngestDrain(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	const secret = "s3cr3t-kafka-password-never-logged"
	d := makeDataset(t, kc.Topics, 3000, 300, "drain")
	produce(t, kc, d.msgs)

	var logs syncBuffer
	cfg := testConfig(t, kc, cc, groupName(t))
	cfg.Drain = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A ClickHouse password would fail against the test server; the SASL
	// password field is unused without a mechanism but must not be logged.
	cfg.Kafka.SASLPassword = secret
	in, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	base := "http://" + in.Addr()
	if code, _ := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d before Run", code)
	}
	if code, _ := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d before joining, want 503", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()

	// Ready once it is a group member with ClickHouse reachable.
	deadline := time.Now().Add(time.Minute)
	for {
		code, _ := httpGet(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned before ready: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run (drain): %v", err)
	}
	_, metrics := httpGet(t, base+"/metrics")

	conn := openCH(t, cc)
	checkStored(t, conn, d)
	checkDLQ(t, kc, conn, d)
	checkCommitted(t, kc, cfg.GroupID)

	for _, want := range []string{
		`impact_ingest_events_consumed_total{topic="` + kc.Topics.Sources()[0],
		`impact_ingest_inserted_total{table="events_raw"}`,
		`impact_ingest_rejected_total{reason="json"} 1`,
		`impact_ingest_rejected_total{reason="size"} 1`,
		`impact_ingest_batch_rows_bucket`,
		`impact_ingest_insert_duration_seconds_bucket`,
		`impact_ingest_consumer_lag{partition="0"`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log contains the Kafka SASL password")
	}
	if !strings.Contains(logs.String(), "drain complete") {
		t.Errorf("log lacks drain completion:\n%s", logs.String())
	}
}

// TestDrainTailFlushes: in drain mode the batches are flushed as soon as
// every partition is caught up, not when they reach FlushAge: with a
// FlushAge of ten minutes the drain ends in seconds with everything stored
// (without the early flush it would wait the ten minutes, past the
// context's two).
func TestDrainTailFlushes(t *testing.T) {
	t.Parallel()
	kc := testenv.Kafka(t)
	cc := testenv.ClickHouse(t)
	d := makeDataset(t, kc.Topics, 2000, 200, "tail")
	produce(t, kc, d.msgs)

	cfg := testConfig(t, kc, cc, groupName(t))
	cfg.Drain = true
	cfg.FlushAge = 10 * time.Minute
	cfg.Listen = ""
	in, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := in.Run(ctx); err != nil {
		t.Fatalf("Run (drain, FlushAge 10m): %v", err)
	}
	if st := in.Stats(); st.Drained.IsZero() {
		t.Fatal("Run returned without completing the drain")
	}
	conn := openCH(t, cc)
	checkStored(t, conn, d)
	checkDLQ(t, kc, conn, d)
	checkCommitted(t, kc, cfg.GroupID)
}
