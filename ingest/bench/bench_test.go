package bench_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/bench"
)

// TestRunSmall runs the whole benchmark on a few thousand events with the
// embedded Kafka and a local ClickHouse, and checks every figure is
// measured and the JSON carries the contract's keys.
func TestRunSmall(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "impact")
	build := exec.Command("go", "build", "-o", bin, "./cmd/impact")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Options{Events: 5000, Exe: bin})
	if err != nil {
		t.Fatal(err)
	}
	if res.KafkaRawEPS <= 0 || res.ClickHouseRawEPS <= 0 || res.PipelineEPS <= 0 || res.Ratio <= 0 {
		t.Errorf("rates not all measured: %+v", res)
	}
	if res.PeakRSSBytes < 10<<20 || res.PeakRSSBytes > 4<<30 {
		t.Errorf("peak RSS %d implausible", res.PeakRSSBytes)
	}
	if res.PipelineCPUSeconds <= 0 || res.PipelineActiveSeconds <= 0 || res.ClickHouseCPUSeconds <= 0 {
		t.Errorf("pipeline times not measured: %+v", res)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pipeline_eps", "kafka_raw_eps", "clickhouse_raw_eps", "ratio", "peak_rss_bytes", "pipeline_cpu_seconds", "clickhouse_cpu_seconds"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	t.Logf("%s", b)
}
