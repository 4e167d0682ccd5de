package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
)

// openInput opens the file an argument names, or stdin for "-", the
// convention of the commands that read JSON Lines.
func openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(name)
}

// addClickHouseFlags binds the ClickHouse connection flags to cfg; the
// environment (IMPACT_CLICKHOUSE_*) gives their defaults. Passwords are
// taken from the environment only, so they never appear in a process list.
func addClickHouseFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&cfg.ClickHouse.Addr, "clickhouse-addr", cfg.ClickHouse.Addr, "ClickHouse native address host:port (env IMPACT_CLICKHOUSE_ADDR)")
	f.StringVar(&cfg.ClickHouse.HTTPAddr, "clickhouse-http-addr", cfg.ClickHouse.HTTPAddr, "ClickHouse HTTP address host:port, where ingest inserts (env IMPACT_CLICKHOUSE_HTTP_ADDR; default the hosts of --clickhouse-addr, port 8123, 8443 with TLS)")
	f.StringVar(&cfg.ClickHouse.User, "clickhouse-user", cfg.ClickHouse.User, "ClickHouse user (env IMPACT_CLICKHOUSE_USER; password from IMPACT_CLICKHOUSE_PASSWORD)")
	f.StringVar(&cfg.ClickHouse.Database, "clickhouse-database", cfg.ClickHouse.DB(), "ClickHouse database (env IMPACT_CLICKHOUSE_DATABASE)")
	f.BoolVar(&cfg.ClickHouse.TLS, "clickhouse-tls", cfg.ClickHouse.TLS, "connect to ClickHouse over TLS (env IMPACT_CLICKHOUSE_TLS)")
	f.StringVar(&cfg.ClickHouse.TLSCAFile, "clickhouse-tls-ca", cfg.ClickHouse.TLSCAFile, "CA bundle for ClickHouse TLS (env IMPACT_CLICKHOUSE_TLS_CA)")
}

// addKafkaFlags binds the Kafka connection flags to cfg; the environment
// (IMPACT_KAFKA_*) gives their defaults. The SASL password comes from the
// environment only.
func addKafkaFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Kafka.Brokers, "brokers", cfg.Kafka.Brokers, "Kafka bootstrap brokers host:port,... (env IMPACT_KAFKA_BROKERS)")
	f.BoolVar(&cfg.Kafka.TLS, "kafka-tls", cfg.Kafka.TLS, "connect to Kafka over TLS (env IMPACT_KAFKA_TLS)")
	f.StringVar(&cfg.Kafka.TLSCAFile, "kafka-tls-ca", cfg.Kafka.TLSCAFile, "CA bundle for Kafka TLS (env IMPACT_KAFKA_TLS_CA)")
	f.StringVar(&cfg.Kafka.SASLMechanism, "kafka-sasl-mechanism", cfg.Kafka.SASLMechanism, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env IMPACT_KAFKA_SASL_MECHANISM; user/password from IMPACT_KAFKA_SASL_USER/_PASSWORD)")
	f.StringVar(&cfg.Kafka.SASLUser, "kafka-sasl-user", cfg.Kafka.SASLUser, "SASL user name (env IMPACT_KAFKA_SASL_USER)")
}
