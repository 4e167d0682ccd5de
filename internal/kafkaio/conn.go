// Package kafkaio builds segmentio/kafka-go clients from config.Kafka and
// publishes CloudEvents files to Kafka.
//
// Every kafka-go entry point takes its security settings differently
// (Dialer for Reader/ConsumerGroup/Conn, Transport for Writer/Client), so
// this package is the one place that turns TLS and SASL settings into both.
package kafkaio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/secimpact/impact/internal/config"
)

// DialTimeout bounds connection set-up (TCP, TLS handshake, SASL) for the
// dialers and transports built here.
const DialTimeout = 10 * time.Second

// ClientID identifies impact's connections in broker logs and quotas.
const ClientID = "impact"

// TLSConfig returns the TLS settings of cfg, or nil when TLS is off.
func TLSConfig(cfg config.Kafka) (*tls.Config, error) {
	if !cfg.TLS {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Test clusters with self-signed certificates only; off by default.
		InsecureSkipVerify: cfg.TLSSkipVerify, //nolint:gosec // an explicit opt-in for test clusters, see above
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read kafka TLS CA %s: %w", cfg.TLSCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read kafka TLS CA %s: no PEM certificates found", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// SASL returns the SASL mechanism of cfg, or nil when SASL is off.
// Mechanism names are matched case-insensitively: PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512.
func SASL(cfg config.Kafka) (sasl.Mechanism, error) {
	mech := strings.ToUpper(strings.TrimSpace(cfg.SASLMechanism))
	if mech == "" {
		return nil, nil
	}
	if cfg.SASLUser == "" {
		return nil, fmt.Errorf("kafka SASL %s: user is empty (set IMPACT_KAFKA_SASL_USER)", mech)
	}
	switch mech {
	case "PLAIN":
		return plain.Mechanism{Username: cfg.SASLUser, Password: cfg.SASLPassword}, nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA256
		if mech == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, cfg.SASLUser, cfg.SASLPassword)
		if err != nil {
			return nil, fmt.Errorf("kafka SASL %s: %w", mech, err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("kafka SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", cfg.SASLMechanism)
	}
}

// security returns the TLS configuration and SASL mechanism of cfg, which
// Dialer and Transport both carry.
func security(cfg config.Kafka) (*tls.Config, sasl.Mechanism, error) {
	tc, err := TLSConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	mech, err := SASL(cfg)
	if err != nil {
		return nil, nil, err
	}
	return tc, mech, nil
}

// Dialer returns a kafka-go Dialer for cfg, for kafka.Reader,
// kafka.ConsumerGroup and kafka.Conn.
func Dialer(cfg config.Kafka) (*kafka.Dialer, error) {
	tc, mech, err := security(cfg)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      ClientID,
		Timeout:       DialTimeout,
		DualStack:     true,
		TLS:           tc,
		SASLMechanism: mech,
	}, nil
}

// Transport returns a kafka-go Transport for cfg, for kafka.Writer and
// kafka.Client. Close idle connections with CloseIdleConnections when done.
func Transport(cfg config.Kafka) (*kafka.Transport, error) {
	tc, mech, err := security(cfg)
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		ClientID:    ClientID,
		DialTimeout: DialTimeout,
		TLS:         tc,
		SASL:        mech,
	}, nil
}

// Client returns a kafka-go Client (admin and offset requests) for cfg.
func Client(cfg config.Kafka) (*kafka.Client, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka client: no brokers configured (set IMPACT_KAFKA_BROKERS or --brokers)")
	}
	tr, err := Transport(cfg)
	if err != nil {
		return nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 30 * time.Second}, nil
}

// Ping connects to the brokers of cfg in turn, with TLS and SASL as
// configured, and returns nil at the first that accepts. Its error names the
// real cause (refused connection, certificate, authentication), which
// kafka-go's Transport reports only as "Broker Not Available".
func Ping(ctx context.Context, cfg config.Kafka) error {
	if len(cfg.Brokers) == 0 {
		return errors.New("kafka: no brokers configured (set IMPACT_KAFKA_BROKERS or --brokers)")
	}
	d, err := Dialer(cfg)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range cfg.Brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, fmt.Errorf("connect to kafka broker %s: %w", b, err))
			continue
		}
		// One request: a broker that wants SASL or TLS from a client that
		// offers neither accepts the TCP connection but drops the first request.
		_ = conn.SetDeadline(time.Now().Add(DialTimeout))
		_, err = conn.Brokers() // metadata: ApiVersions is allowed before authentication
		conn.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("kafka broker %s dropped a metadata request (does it require SASL or TLS?): %w", b, err))
	}
	return errors.Join(errs...)
}
