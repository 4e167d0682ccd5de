package config

import (
	"reflect"
	"testing"
)

func TestFromLookup(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"empty environment is the zero value", nil, Config{}},
		{"lists, flags and trimming", map[string]string{
			"IMPACT_KAFKA_BROKERS":        " a:9092, ,b:9092 ",
			"IMPACT_KAFKA_TLS":            "yes",
			"IMPACT_KAFKA_TLS_INSECURE":   "0",
			"IMPACT_KAFKA_SASL_MECHANISM": "scram-sha-512",
			"IMPACT_CLICKHOUSE_ADDR":      "ch:9000",
			"IMPACT_CLICKHOUSE_HTTP_ADDR": "ch:8124",
			"IMPACT_CLICKHOUSE_DATABASE":  "analytics",
			"IMPACT_CLICKHOUSE_TLS":       "TRUE",
			"IMPACT_GRAFANA_URL":          "http://grafana:3000",
		}, Config{
			Kafka:      Kafka{Brokers: []string{"a:9092", "b:9092"}, TLS: true, SASLMechanism: "SCRAM-SHA-512"},
			ClickHouse: ClickHouse{Addr: "ch:9000", HTTPAddr: "ch:8124", Database: "analytics", TLS: true},
			Grafana:    Grafana{URL: "http://grafana:3000"},
		}},
		{"secrets are taken verbatim", map[string]string{
			"IMPACT_CLICKHOUSE_PASSWORD": " p w ",
			"IMPACT_KAFKA_SASL_PASSWORD": "x ",
			"IMPACT_GRAFANA_TOKEN":       " t",
		}, Config{
			Kafka:      Kafka{SASLPassword: "x "},
			ClickHouse: ClickHouse{Password: " p w "},
			Grafana:    Grafana{Token: " t"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromLookup(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTopicsForType(t *testing.T) {
	custom := Topics{Security: "sec", Deployment: "dep", CRM: "crm", Support: "sup", Catalog: "cat", DLQ: "dlq"}
	tests := []struct {
		typ, wantDefault, wantCustom string
	}{
		{"security.gate.evaluated", "security.events", "sec"},
		{"deployment.finished", "deployment.events", "dep"},
		{"crm.opportunity.created", "crm.events", "crm"},
		{"support.ticket.rated", "support.events", "sup"},
		{"catalog.service.upserted", "catalog.events", "cat"},
		{"", "security.events", "sec"},
		{"deploymentx.finished", "security.events", "sec"},
	}
	for _, tt := range tests {
		if got := (Topics{}).ForType(tt.typ); got != tt.wantDefault {
			t.Errorf("default ForType(%q) = %q, want %q", tt.typ, got, tt.wantDefault)
		}
		if got := custom.ForType(tt.typ); got != tt.wantCustom {
			t.Errorf("custom ForType(%q) = %q, want %q", tt.typ, got, tt.wantCustom)
		}
	}
	if got := (Topics{}).Sources(); !reflect.DeepEqual(got, []string{"security.events", "deployment.events", "crm.events", "support.events", "catalog.events"}) {
		t.Errorf("default Sources() = %v", got)
	}
	if got, want := (Topics{}).WithSuffix(".x"), (Topics{"security.events.x", "deployment.events.x", "crm.events.x", "support.events.x", "catalog.events.x", "impact.dlq.x"}); got != want {
		t.Errorf("WithSuffix = %+v, want %+v", got, want)
	}
}

func TestHTTPAddrs(t *testing.T) {
	tests := []struct {
		name string
		c    ClickHouse
		want []string
	}{
		{"given", ClickHouse{Addr: "ch:9000", HTTPAddr: "a:1, b:2"}, []string{"a:1", "b:2"}},
		{"from the native hosts", ClickHouse{Addr: "ch1:9000,ch2:9001"}, []string{"ch1:8123", "ch2:8123"}},
		{"TLS", ClickHouse{Addr: "[::1]:9440", TLS: true}, []string{"[::1]:8443"}},
		{"TLS by its CA", ClickHouse{Addr: "ch:9440", TLSCAFile: "ca.pem"}, []string{"ch:8443"}},
		{"none", ClickHouse{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.HTTPAddrs(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("HTTPAddrs() = %q, want %q", got, tt.want)
			}
		})
	}
}
