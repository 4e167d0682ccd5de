// Package config holds the connection settings every impact command shares.
//
// Settings come from flags, then environment variables (IMPACT_*), then the
// defaults documented on each field. The zero value of every struct is a sane
// default: an empty address means "start or use the local default".
package config

import (
	"cmp"
	"net"
	"os"
	"strings"
	"time"
)

// Topics names the Kafka topics of event contract v1.
type Topics struct {
	Security   string // default security.events
	Deployment string // default deployment.events
	CRM        string // default crm.events
	Support    string // default support.events
	Catalog    string // default catalog.events
	DLQ        string // default impact.dlq
}

// DefaultTopics returns the topic names of event contract v1.
func DefaultTopics() Topics {
	return Topics{
		Security:   "security.events",
		Deployment: "deployment.events",
		CRM:        "crm.events",
		Support:    "support.events",
		Catalog:    "catalog.events",
		DLQ:        "impact.dlq",
	}
}

// Sources returns the five source topics (everything but the DLQ), with
// defaults filled in for empty names.
func (t Topics) Sources() []string {
	d := DefaultTopics()
	return []string{
		cmp.Or(t.Security, d.Security),
		cmp.Or(t.Deployment, d.Deployment),
		cmp.Or(t.CRM, d.CRM),
		cmp.Or(t.Support, d.Support),
		cmp.Or(t.Catalog, d.Catalog),
	}
}

// DLQTopic returns the dead-letter topic, defaulted.
func (t Topics) DLQTopic() string { return cmp.Or(t.DLQ, DefaultTopics().DLQ) }

// Kafka holds the broker connection settings.
type Kafka struct {
	Brokers []string // IMPACT_KAFKA_BROKERS, comma separated; empty means embedded (demo) or required (ingest)
	Topics  Topics

	TLS           bool   // IMPACT_KAFKA_TLS=1
	TLSCAFile     string // IMPACT_KAFKA_TLS_CA
	TLSSkipVerify bool   // IMPACT_KAFKA_TLS_INSECURE=1; for test clusters only

	SASLMechanism string // IMPACT_KAFKA_SASL_MECHANISM: "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	SASLUser      string // IMPACT_KAFKA_SASL_USER
	SASLPassword  string // IMPACT_KAFKA_SASL_PASSWORD; never logged
}

// ClickHouse holds the ClickHouse connection settings.
type ClickHouse struct {
	Addr string // IMPACT_CLICKHOUSE_ADDR host:port of the native protocol; empty means start a local server
	// HTTPAddr is host:port of the HTTP interface, where ingest sends its
	// rows (IMPACT_CLICKHOUSE_HTTP_ADDR, comma separated like Addr);
	// default: each host of Addr with port 8123 (8443 with TLS), see
	// HTTPAddrs.
	HTTPAddr string
	User     string // IMPACT_CLICKHOUSE_USER, default "default"
	Password string // IMPACT_CLICKHOUSE_PASSWORD; never logged
	Database string // IMPACT_CLICKHOUSE_DATABASE, default "impact"

	TLS           bool   // IMPACT_CLICKHOUSE_TLS=1
	TLSCAFile     string // IMPACT_CLICKHOUSE_TLS_CA
	TLSSkipVerify bool   // IMPACT_CLICKHOUSE_TLS_INSECURE=1

	DialTimeout time.Duration // default 5s
}

// DB returns the database name, defaulted.
func (c ClickHouse) DB() string { return cmp.Or(c.Database, "impact") }

// HTTPAddrs returns the addresses of the HTTP interface: HTTPAddr's, or
// else each host of Addr with ClickHouse's default HTTP port (8123, or
// 8443 with TLS).
func (c ClickHouse) HTTPAddrs() []string {
	if c.HTTPAddr != "" {
		return SplitList(c.HTTPAddr)
	}
	port := "8123"
	if c.TLS || c.TLSCAFile != "" {
		port = "8443"
	}
	var out []string
	for _, a := range SplitList(c.Addr) {
		if host, _, err := net.SplitHostPort(a); err == nil {
			out = append(out, net.JoinHostPort(host, port))
		}
	}
	return out
}

// Username returns the user name, defaulted.
func (c ClickHouse) Username() string { return cmp.Or(c.User, "default") }

// Grafana holds the Grafana API settings.
type Grafana struct {
	URL      string // IMPACT_GRAFANA_URL
	Token    string // IMPACT_GRAFANA_TOKEN (service account token); never logged
	User     string // IMPACT_GRAFANA_USER, basic auth when no token
	Password string // IMPACT_GRAFANA_PASSWORD; never logged
}

// Config is everything a command may need to connect.
type Config struct {
	Kafka      Kafka
	ClickHouse ClickHouse
	Grafana    Grafana
}

// FromEnv returns a Config filled from IMPACT_* environment variables.
func FromEnv() Config {
	return fromLookup(os.LookupEnv)
}

func fromLookup(lookup func(string) (string, bool)) Config {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	flag := func(k string) bool {
		switch strings.ToLower(get(k)) {
		case "1", "true", "yes", "on":
			return true
		}
		return false
	}
	var c Config
	c.Kafka.Brokers = SplitList(get("IMPACT_KAFKA_BROKERS"))
	c.Kafka.TLS = flag("IMPACT_KAFKA_TLS")
	c.Kafka.TLSCAFile = get("IMPACT_KAFKA_TLS_CA")
	c.Kafka.TLSSkipVerify = flag("IMPACT_KAFKA_TLS_INSECURE")
	c.Kafka.SASLMechanism = strings.ToUpper(get("IMPACT_KAFKA_SASL_MECHANISM"))
	c.Kafka.SASLUser = get("IMPACT_KAFKA_SASL_USER")
	c.Kafka.SASLPassword, _ = lookup("IMPACT_KAFKA_SASL_PASSWORD")

	c.ClickHouse.Addr = get("IMPACT_CLICKHOUSE_ADDR")
	c.ClickHouse.HTTPAddr = get("IMPACT_CLICKHOUSE_HTTP_ADDR")
	c.ClickHouse.User = get("IMPACT_CLICKHOUSE_USER")
	c.ClickHouse.Password, _ = lookup("IMPACT_CLICKHOUSE_PASSWORD")
	c.ClickHouse.Database = get("IMPACT_CLICKHOUSE_DATABASE")
	c.ClickHouse.TLS = flag("IMPACT_CLICKHOUSE_TLS")
	c.ClickHouse.TLSCAFile = get("IMPACT_CLICKHOUSE_TLS_CA")
	c.ClickHouse.TLSSkipVerify = flag("IMPACT_CLICKHOUSE_TLS_INSECURE")

	c.Grafana.URL = get("IMPACT_GRAFANA_URL")
	c.Grafana.Token, _ = lookup("IMPACT_GRAFANA_TOKEN")
	c.Grafana.User = get("IMPACT_GRAFANA_USER")
	c.Grafana.Password, _ = lookup("IMPACT_GRAFANA_PASSWORD")
	return c
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ForType returns the topic an event of the given CloudEvents type belongs
// on, by its family prefix (security., deployment., crm., support.,
// catalog.). Types of no known family go to the security topic, where ingest
// rejects them to the DLQ with a precise reason instead of losing them.
func (t Topics) ForType(eventType string) string {
	family, _, _ := strings.Cut(eventType, ".")
	d := DefaultTopics()
	switch family {
	case "deployment":
		return cmp.Or(t.Deployment, d.Deployment)
	case "crm":
		return cmp.Or(t.CRM, d.CRM)
	case "support":
		return cmp.Or(t.Support, d.Support)
	case "catalog":
		return cmp.Or(t.Catalog, d.Catalog)
	default:
		return cmp.Or(t.Security, d.Security)
	}
}

// WithSuffix returns topics with suffix appended to every name, so tests
// sharing one broker never see each other's messages.
func (t Topics) WithSuffix(suffix string) Topics {
	d := DefaultTopics()
	return Topics{
		Security:   cmp.Or(t.Security, d.Security) + suffix,
		Deployment: cmp.Or(t.Deployment, d.Deployment) + suffix,
		CRM:        cmp.Or(t.CRM, d.CRM) + suffix,
		Support:    cmp.Or(t.Support, d.Support) + suffix,
		Catalog:    cmp.Or(t.Catalog, d.Catalog) + suffix,
		DLQ:        cmp.Or(t.DLQ, d.DLQ) + suffix,
	}
}
