package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Validate names the bad settings (with their environment variables):
// addresses that are not host:port, an unknown SASL mechanism or one
// without a user, TLS options that would be ignored because TLS is off, a
// topic named twice, a negative dial timeout, a Grafana URL that is not
// http(s). Empty values are the defaults and always valid.
func (c Config) Validate() error {
	return errors.Join(c.Kafka.Validate(), c.ClickHouse.Validate(), c.Grafana.Validate())
}

// Validate checks the Kafka settings; see Config.Validate.
func (k Kafka) Validate() error {
	for i, b := range k.Brokers {
		if err := hostPort(b); err != nil {
			return fmt.Errorf("kafka config: Brokers[%d] %q (IMPACT_KAFKA_BROKERS): %w", i, b, err)
		}
	}
	switch m := strings.ToUpper(strings.TrimSpace(k.SASLMechanism)); {
	case m != "" && m != "PLAIN" && m != "SCRAM-SHA-256" && m != "SCRAM-SHA-512":
		return fmt.Errorf("kafka config: SASLMechanism %q (IMPACT_KAFKA_SASL_MECHANISM) is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.SASLMechanism)
	case m != "" && k.SASLUser == "":
		return fmt.Errorf("kafka config: SASLUser (IMPACT_KAFKA_SASL_USER) is empty while SASLMechanism is %s", m)
	case m == "" && k.SASLUser != "":
		return errors.New("kafka config: SASLUser (IMPACT_KAFKA_SASL_USER) is set but SASLMechanism (IMPACT_KAFKA_SASL_MECHANISM) is empty: the user would not be sent")
	case !k.TLS && (k.TLSCAFile != "" || k.TLSSkipVerify):
		return errors.New("kafka config: TLSCAFile or TLSSkipVerify (IMPACT_KAFKA_TLS_CA, IMPACT_KAFKA_TLS_INSECURE) is set but TLS (IMPACT_KAFKA_TLS) is off: the connection would be plain text")
	}
	seen := map[string]bool{}
	for _, t := range append(k.Topics.Sources(), k.Topics.DLQTopic()) {
		if seen[t] {
			return fmt.Errorf("kafka config: Topics name %q twice", t)
		}
		seen[t] = true
	}
	return nil
}

// Validate checks the ClickHouse settings; see Config.Validate.
func (c ClickHouse) Validate() error {
	switch {
	case c.Addr != "" && hostPort(c.Addr) != nil:
		return fmt.Errorf("clickhouse config: Addr %q (IMPACT_CLICKHOUSE_ADDR): %w", c.Addr, hostPort(c.Addr))
	case c.HTTPAddr != "" && listHostPort(c.HTTPAddr) != nil:
		return fmt.Errorf("clickhouse config: HTTPAddr %q (IMPACT_CLICKHOUSE_HTTP_ADDR): %w", c.HTTPAddr, listHostPort(c.HTTPAddr))
	case c.DialTimeout < 0:
		return fmt.Errorf("clickhouse config: DialTimeout %s is negative", c.DialTimeout)
	case !c.TLS && c.TLSCAFile == "" && c.TLSSkipVerify:
		// A CA file turns TLS on (chconn); skipping verification alone does not.
		return errors.New("clickhouse config: TLSSkipVerify (IMPACT_CLICKHOUSE_TLS_INSECURE) is set but TLS (IMPACT_CLICKHOUSE_TLS) is off: the connection would be plain text")
	}
	return nil
}

// Validate checks the Grafana settings; see Config.Validate.
func (g Grafana) Validate() error {
	if g.URL == "" {
		return nil
	}
	u, err := url.Parse(g.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("grafana config: URL %q (IMPACT_GRAFANA_URL) is not an http(s) URL", g.URL)
	}
	return nil
}

// hostPort checks that addr is host:port with a port in 1-65535.
func hostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return errors.New("not host:port with a port in 1-65535")
	}
	return nil
}

// listHostPort checks every address of a comma separated list.
func listHostPort(list string) error {
	for _, a := range SplitList(list) {
		if err := hostPort(a); err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
}
