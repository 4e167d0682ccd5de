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
		c.BatchBytes != 32<<20 || c.MemoryBudget != 96<<20 || c.ShutdownTimeout != 30*time.Second ||
		c.BackoffMin != 100*time.Millisecond || c.BackoffMax != 30*time.Second || c.Logger == nil {
		t.Errorf("zero Config defaults = %+v", c)
	}
	if got := MemoryLimit(0); got != DefaultMemoryBudget+112<<20 {
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

// TestConfigValidate checks that a setting that cannot work is an error
// naming its field, and that zero values (the defaults) are not.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*Config)
		wantErr string // "" for valid
	}{
		{"zero value", func(*Config) {}, ""},
		{"explicit values", func(c *Config) {
			c.BatchRows, c.BatchBytes, c.MemoryBudget, c.FetchMaxBytes = 10, 1<<20, 64<<20, 1<<20
			c.FlushAge, c.BackoffMin, c.BackoffMax = time.Second, time.Second, time.Second
		}, ""},
		{"negative batch rows", func(c *Config) { c.BatchRows = -1 }, "Config.BatchRows -1 is negative"},
		{"negative batch bytes", func(c *Config) { c.BatchBytes = -5 }, "Config.BatchBytes"},
		{"negative memory budget", func(c *Config) { c.MemoryBudget = -1 }, "Config.MemoryBudget"},
		{"negative fetch size", func(c *Config) { c.FetchMaxBytes = -1 }, "Config.FetchMaxBytes"},
		{"negative flush age", func(c *Config) { c.FlushAge = -time.Second }, "Config.FlushAge -1s is negative"},
		{"negative shutdown timeout", func(c *Config) { c.ShutdownTimeout = -1 }, "Config.ShutdownTimeout"},
		{"negative backoff", func(c *Config) { c.BackoffMin = -1 }, "Config.BackoffMin"},
		{"negative commit interval", func(c *Config) { c.CommitInterval = -time.Millisecond }, "Config.CommitInterval"},
		{"negative stall timeout", func(c *Config) { c.StallTimeout = -time.Minute }, "Config.StallTimeout"},
		{"backoff max below min", func(c *Config) { c.BackoffMin, c.BackoffMax = time.Second, time.Millisecond }, "Config.BackoffMax 1ms is below BackoffMin 1s"},
		{"negative clock skew", func(c *Config) { c.TimeWindow.MaxSkew = -time.Hour }, "Config.TimeWindow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			tt.set(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
