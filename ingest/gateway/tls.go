package gateway

import "crypto/tls"

// tlsConfig is the server's TLS: 1.2 or later, Go's default cipher suites
// (all AEAD with forward secrecy for 1.2).
func tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12}
}
