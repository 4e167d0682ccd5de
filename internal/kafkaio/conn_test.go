package kafkaio

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
)

func TestSecuritySettings(t *testing.T) {
	dir := t.TempDir()
	badCA := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(badCA, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      config.Kafka
		wantTLS  bool
		wantSkip bool
		wantSASL string // mechanism name, "" for none
		wantErr  string // substring, "" for success
	}{
		{name: "zero value is plaintext", cfg: config.Kafka{}},
		{name: "tls", cfg: config.Kafka{TLS: true}, wantTLS: true},
		{name: "tls insecure", cfg: config.Kafka{TLS: true, TLSSkipVerify: true}, wantTLS: true, wantSkip: true},
		{name: "tls missing CA", cfg: config.Kafka{TLS: true, TLSCAFile: filepath.Join(dir, "nope.pem")}, wantErr: "read kafka TLS CA"},
		{name: "tls CA without PEM", cfg: config.Kafka{TLS: true, TLSCAFile: badCA}, wantErr: "no PEM certificates"},
		{name: "plain", cfg: config.Kafka{SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "p"}, wantSASL: "PLAIN"},
		{name: "plain lower case", cfg: config.Kafka{SASLMechanism: "plain", SASLUser: "u"}, wantSASL: "PLAIN"},
		{name: "scram 256", cfg: config.Kafka{SASLMechanism: "SCRAM-SHA-256", SASLUser: "u", SASLPassword: "p"}, wantSASL: "SCRAM-SHA-256"},
		{name: "scram 512 over tls", cfg: config.Kafka{TLS: true, SASLMechanism: "SCRAM-SHA-512", SASLUser: "u", SASLPassword: "p"}, wantTLS: true, wantSASL: "SCRAM-SHA-512"},
		{name: "sasl without user", cfg: config.Kafka{SASLMechanism: "PLAIN"}, wantErr: "user is empty"},
		{name: "unknown mechanism", cfg: config.Kafka{SASLMechanism: "GSSAPI", SASLUser: "u"}, wantErr: "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, derr := Dialer(tt.cfg)
			tr, terr := Transport(tt.cfg)
			if tt.wantErr != "" {
				for _, err := range []error{derr, terr} {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
					}
				}
				return
			}
			if derr != nil || terr != nil {
				t.Fatalf("Dialer: %v, Transport: %v", derr, terr)
			}
			if (d.TLS != nil) != tt.wantTLS || (tr.TLS != nil) != tt.wantTLS {
				t.Fatalf("TLS on dialer=%v transport=%v, want %v", d.TLS != nil, tr.TLS != nil, tt.wantTLS)
			}
			if tt.wantTLS && (d.TLS.InsecureSkipVerify != tt.wantSkip) {
				t.Fatalf("InsecureSkipVerify = %v, want %v", d.TLS.InsecureSkipVerify, tt.wantSkip)
			}
			var dm, tm string
			if d.SASLMechanism != nil {
				dm = d.SASLMechanism.Name()
			}
			if tr.SASL != nil {
				tm = tr.SASL.Name()
			}
			if dm != tt.wantSASL || tm != tt.wantSASL {
				t.Fatalf("SASL dialer=%q transport=%q, want %q", dm, tm, tt.wantSASL)
			}
		})
	}
}

func TestClientNeedsBrokers(t *testing.T) {
	if _, err := Client(config.Kafka{}); err == nil {
		t.Fatal("Client with no brokers: want an error")
	}
	c, err := Client(config.Kafka{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Addr.String(); got != "127.0.0.1:1" {
		t.Fatalf("Addr = %q", got)
	}
}

func TestRetriable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{kafka.GroupCoordinatorNotAvailable, true},
		{fmt.Errorf("join: %w", kafka.RebalanceInProgress), true},
		{kafka.NotLeaderForPartition, true},
		{kafka.UnknownMemberId, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{io.EOF, true},
		{kafka.SASLAuthenticationFailed, false},
		{kafka.TopicAuthorizationFailed, false},
		{errors.New("something else"), false},
	}
	for _, tt := range tests {
		if got := Retriable(tt.err); got != tt.want {
			t.Errorf("Retriable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
