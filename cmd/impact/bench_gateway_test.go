package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestBenchGatewayCommand runs `impact bench gateway --requests 300 --json`
// (against IMPACT_KAFKA_BROKERS when set, as in CI, else an embedded
// Kafka) and checks the documented JSON keys.
func TestBenchGatewayCommand(t *testing.T) {
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs([]string{"bench", "gateway", "--requests", "300", "--concurrency", "8", "--json"})
	if err := rootCmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, k := range []string{"rps", "p50_ms", "p99_ms"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v in %s", k, res[k], out.String())
		}
	}
	if res["requests"] != 300.0 || res["errors"] != 0.0 {
		t.Errorf("%s", out.String())
	}
}
