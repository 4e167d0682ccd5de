package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/config"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.GroupID != "impact-ingest" || c.FlushAge != time.Second || c.BatchRows != 50_000 ||
		c.BatchBytes != 32<<20 || c.MemoryBudget != 128<<20 || c.ShutdownTimeout != 30*time.Second ||
		c.BackoffMin != 100*time.Millisecond || c.BackoffMax != 30*time.Second || c.Logger == nil {
		t.Errorf("zero Config defaults = %+v", c)
	}
	if got := MemoryLimit(0); got != 2*DefaultMemoryBudget+128<<20 {
		t.Errorf("MemoryLimit(0) = %d", got)
	}
}

// TestNewSecurity checks that the Kafka security settings reach the
// clients New builds: an unknown SASL mechanism or an unreadable CA file
// fails at New, before any connection, and a valid one is accepted.
func TestNewSecurity(t *testing.T) {
	base := Config{
		Kafka:      config.Kafka{Brokers: []string{"127.0.0.1:1"}},
		ClickHouse: config.ClickHouse{Addr: "127.0.0.1:1"},
	}
	tests := []struct {
		name    string
		kafka   func(*config.Kafka)
		wantErr string
	}{
		{"plaintext", func(*config.Kafka) {}, ""},
		{"plain", func(k *config.Kafka) { k.SASLMechanism, k.SASLUser, k.SASLPassword = "PLAIN", "u", "p" }, ""},
		{"scram-256", func(k *config.Kafka) { k.SASLMechanism, k.SASLUser, k.SASLPassword = "SCRAM-SHA-256", "u", "p" }, ""},
		{"scram-512", func(k *config.Kafka) { k.SASLMechanism, k.SASLUser, k.SASLPassword = "scram-sha-512", "u", "p" }, ""},
		{"unknown mechanism", func(k *config.Kafka) { k.SASLMechanism = "GSSAPI" }, "GSSAPI"},
		{"tls with missing CA", func(k *config.Kafka) { k.TLS, k.TLSCAFile = true, "/nonexistent/ca.pem" }, "ca.pem"},
		{"no brokers", func(k *config.Kafka) { k.Brokers = nil }, "no Kafka brokers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.kafka(&cfg.Kafka)
			in, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				in.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
