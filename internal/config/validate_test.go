package config

import (
	"strings"
	"testing"
	"time"
)

// TestValidate: the zero value and real settings are valid; each bad
// setting is an error naming the field and its environment variable.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string // "" = valid
	}{
		{"zero", Config{}, ""},
		{"set", Config{
			Kafka:      Kafka{Brokers: []string{"kafka-1:9092", "[::1]:9093"}, TLS: true, TLSCAFile: "/ca.pem", SASLMechanism: "scram-sha-512", SASLUser: "u"},
			ClickHouse: ClickHouse{Addr: "clickhouse:9440", TLSCAFile: "/ca.pem", DialTimeout: time.Second},
			Grafana:    Grafana{URL: "https://grafana.example.com"},
		}, ""},
		{"broker without port", Config{Kafka: Kafka{Brokers: []string{"kafka-1:9092", "kafka-2"}}}, "Brokers[1] \"kafka-2\" (IMPACT_KAFKA_BROKERS): not host:port"},
		{"broker port 0", Config{Kafka: Kafka{Brokers: []string{"kafka:0"}}}, "port in 1-65535"},
		{"unknown SASL", Config{Kafka: Kafka{SASLMechanism: "GSSAPI", SASLUser: "u"}}, "SASLMechanism \"GSSAPI\""},
		{"SASL without user", Config{Kafka: Kafka{SASLMechanism: "PLAIN"}}, "SASLUser (IMPACT_KAFKA_SASL_USER) is empty"},
		{"user without SASL", Config{Kafka: Kafka{SASLUser: "u"}}, "SASLMechanism (IMPACT_KAFKA_SASL_MECHANISM) is empty"},
		{"kafka CA without TLS", Config{Kafka: Kafka{TLSCAFile: "/ca.pem"}}, "TLS (IMPACT_KAFKA_TLS) is off"},
		{"topic twice", Config{Kafka: Kafka{Topics: Topics{CRM: "security.events"}}}, "Topics name \"security.events\" twice"},
		{"clickhouse addr", Config{ClickHouse: ClickHouse{Addr: "clickhouse"}}, "Addr \"clickhouse\" (IMPACT_CLICKHOUSE_ADDR)"},
		{"clickhouse http addr", Config{ClickHouse: ClickHouse{HTTPAddr: "ch:8123,ch2"}}, "HTTPAddr \"ch:8123,ch2\" (IMPACT_CLICKHOUSE_HTTP_ADDR): ch2: not host:port"},
		{"clickhouse insecure without TLS", Config{ClickHouse: ClickHouse{TLSSkipVerify: true}}, "TLSSkipVerify (IMPACT_CLICKHOUSE_TLS_INSECURE)"},
		{"negative dial timeout", Config{ClickHouse: ClickHouse{DialTimeout: -time.Second}}, "DialTimeout -1s"},
		{"grafana URL", Config{Grafana: Grafana{URL: "grafana:3000"}}, "URL \"grafana:3000\" (IMPACT_GRAFANA_URL)"},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}
