package kafkaio_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
)

// TestSecureCluster runs the clients built from config.Kafka (Admin over the
// Dialer and the Transport, Writer, Reader) against kfake clusters that
// require TLS and/or SASL, so the security settings are proven on the wire,
// not only constructed.
func TestSecureCluster(t *testing.T) {
	ca, serverTLS := testCerts(t)
	otherCA, _ := testCerts(t)
	tests := []struct {
		name      string
		cluster   []kfake.Opt
		cfg       config.Kafka
		wantErr   bool
		wantCause string // in the error, when wantErr
	}{
		{name: "SASL PLAIN", cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "impact", "pw")},
			cfg: config.Kafka{SASLMechanism: "PLAIN", SASLUser: "impact", SASLPassword: "pw"}},
		{name: "SASL SCRAM-SHA-256", cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "impact", "pw")},
			cfg: config.Kafka{SASLMechanism: "SCRAM-SHA-256", SASLUser: "impact", SASLPassword: "pw"}},
		{name: "SASL SCRAM-SHA-512", cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "impact", "pw")},
			cfg: config.Kafka{SASLMechanism: "SCRAM-SHA-512", SASLUser: "impact", SASLPassword: "pw"}},
		{name: "TLS with CA file", cluster: []kfake.Opt{kfake.TLS(serverTLS)},
			cfg: config.Kafka{TLS: true, TLSCAFile: ca}},
		{name: "TLS and SCRAM-SHA-512", cluster: []kfake.Opt{kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "impact", "pw")},
			cfg: config.Kafka{TLS: true, TLSCAFile: ca, SASLMechanism: "SCRAM-SHA-512", SASLUser: "impact", SASLPassword: "pw"}},
		{name: "TLS insecure skip verify", cluster: []kfake.Opt{kfake.TLS(serverTLS)},
			cfg: config.Kafka{TLS: true, TLSSkipVerify: true}},
		{name: "wrong password", cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "impact", "pw")},
			cfg: config.Kafka{SASLMechanism: "SCRAM-SHA-256", SASLUser: "impact", SASLPassword: "nope"}, wantErr: true, wantCause: "SASL Authentication Failed"},
		{name: "TLS with another CA", cluster: []kfake.Opt{kfake.TLS(serverTLS)},
			cfg: config.Kafka{TLS: true, TLSCAFile: otherCA}, wantErr: true, wantCause: "certificate signed by unknown authority"},
		{name: "plaintext client, SASL cluster", cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "impact", "pw")},
			cfg: config.Kafka{}, wantErr: true, wantCause: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(2)}, tt.cluster...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg := tt.cfg
			cfg.Brokers = c.ListenAddrs()
			topic := "secure"

			admin, err := kafkaio.NewAdmin(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			err = admin.CreateTopics(ctx, []string{topic}, 2)
			if tt.wantErr {
				if err == nil {
					t.Fatal("create topics: want an authentication or TLS error")
				}
				if !strings.Contains(err.Error(), tt.wantCause) {
					t.Fatalf("create topics: %v, want the cause %q named", err, tt.wantCause)
				}
				if perr := kafkaio.Ping(ctx, cfg); perr == nil || !strings.Contains(perr.Error(), tt.wantCause) {
					t.Fatalf("Ping: %v, want the cause %q named", perr, tt.wantCause)
				}
				return
			}
			if err != nil {
				t.Fatalf("create topics: %v", err)
			}
			if err := kafkaio.Ping(ctx, cfg); err != nil {
				t.Fatalf("Ping: %v", err)
			}

			w, err := kafkaio.NewWriter(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("secret value")}); err != nil {
				t.Fatalf("write: %v", err)
			}
			end, err := admin.EndOffsets(ctx, []string{topic})
			if err != nil {
				t.Fatal(err)
			}
			dialer, err := kafkaio.Dialer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for p, off := range end[topic] {
				if off == 0 {
					continue
				}
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Dialer: dialer, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
				m, err := r.ReadMessage(ctx)
				r.Close()
				if err != nil {
					t.Fatalf("read %s/%d: %v", topic, p, err)
				}
				if string(m.Value) != "secret value" {
					t.Fatalf("read %q", m.Value)
				}
				return
			}
			t.Fatalf("no message found; end offsets %v", end)
		})
	}
}

// testCerts makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the CA's PEM file and the server's TLS config.
func testCerts(t *testing.T) (caFile string, server *tls.Config) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "impact test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(caPEM), "BEGIN CERTIFICATE") {
		t.Fatal("bad CA PEM")
	}
	return caFile, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}
