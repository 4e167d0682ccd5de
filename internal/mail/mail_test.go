package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	impactmail "github.com/secimpact/impact/internal/mail"
	"github.com/secimpact/impact/internal/mail/mailtest"
)

func message() impactmail.Message {
	return impactmail.Message{
		Subject: "impact brief 2026-Q2: Engineering — €",
		Text:    "The brief is attached.",
		HTML:    "<!doctype html><p>Win rate <b>+4 pp</b> " + strings.Repeat("long line ", 40) + "</p>",
		Attachments: []impactmail.Attachment{{Name: "impact-brief-2026-Q2.pdf", ContentType: "application/pdf",
			Data: append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 500)...)}},
	}
}

func TestSend(t *testing.T) {
	// A TLS server certificate and a CA file that trusts it.
	hs := httptest.NewTLSServer(nil)
	defer hs.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{Certificates: hs.TLS.Certificates}

	tests := []struct {
		name     string
		tls      *tls.Config
		cfg      func(addr string) impactmail.Config
		wantErr  string
		wantTLS  bool
		wantAuth string
	}{
		{"starttls with auth", tlsConf, func(a string) impactmail.Config {
			return impactmail.Config{Addr: a, User: "impact", Password: "s3cret-pw", TLS: impactmail.StartTLS, CAFile: ca}
		}, "", true, "impact"},
		{"local relay without tls", nil, func(a string) impactmail.Config {
			return impactmail.Config{Addr: a, User: "impact", Password: "s3cret-pw", TLS: impactmail.NoTLS}
		}, "", false, "impact"},
		{"wrong password", tlsConf, func(a string) impactmail.Config {
			return impactmail.Config{Addr: a, User: "impact", Password: "wrong-pw", CAFile: ca}
		}, "535", false, ""},
		{"server offers no starttls", nil, func(a string) impactmail.Config {
			return impactmail.Config{Addr: a, User: "impact", Password: "s3cret-pw"}
		}, "does not offer STARTTLS", false, ""},
		{"untrusted certificate", tlsConf, func(a string) impactmail.Config {
			return impactmail.Config{Addr: a, User: "impact", Password: "s3cret-pw"}
		}, "STARTTLS", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, "impact", "s3cret-pw", tt.tls)
			c := tt.cfg(srv.Addr)
			c.From = "impact <impact@example.com>"
			c.To = []string{"ciso@example.com", "Head of Eng <eng@example.com>"}
			err := impactmail.Send(context.Background(), c, message())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), c.Password) {
					t.Errorf("error shows the password: %v", err)
				}
				if len(srv.Messages()) != 0 {
					t.Errorf("a message was accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("%d messages", len(got))
			}
			m := got[0]
			if m.TLS != tt.wantTLS || m.Auth != tt.wantAuth || m.From != "impact@example.com" ||
				strings.Join(m.To, ",") != "ciso@example.com,eng@example.com" {
				t.Errorf("envelope %+v", m)
			}
			msg := m.Parse(t)
			bodies, names := msg.Bodies, msg.Names
			if msg.Subject != message().Subject {
				t.Errorf("subject %q", msg.Subject)
			}
			if !bytes.Equal(bodies["application/pdf"], message().Attachments[0].Data) || names["application/pdf"] != "impact-brief-2026-Q2.pdf" {
				t.Errorf("attachment %q %d bytes", names["application/pdf"], len(bodies["application/pdf"]))
			}
			if string(bodies["text/html"]) != message().HTML || string(bodies["text/plain"]) != message().Text {
				t.Errorf("bodies differ: %q", bodies["text/html"])
			}
			for _, l := range bytes.Split(m.Data, []byte("\r\n")) {
				if len(l) > 998 {
					t.Fatalf("line of %d bytes (RFC 5322 allows 998)", len(l))
				}
			}
		})
	}
}

func TestConfig(t *testing.T) {
	good := impactmail.Config{Addr: "smtp.example.com:587", From: "impact@example.com", To: []string{"a@example.com"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*impactmail.Config)
		want   string
	}{
		{func(c *impactmail.Config) { c.Addr = "" }, "IMPACT_SMTP_ADDR"},
		{func(c *impactmail.Config) { c.Addr = "smtp.example.com" }, "host:port"},
		{func(c *impactmail.Config) { c.TLS = "ssl" }, "IMPACT_SMTP_TLS"},
		{func(c *impactmail.Config) { c.User = "u" }, "IMPACT_SMTP_PASSWORD"},
		{func(c *impactmail.Config) { c.To = nil }, "IMPACT_SMTP_TO"},
		{func(c *impactmail.Config) { c.From = "not an address\r\nBcc: x@y" }, "IMPACT_SMTP_FROM"},
		{func(c *impactmail.Config) { c.To = []string{"a@example.com\r\nBcc: evil@example.com"} }, "recipient"},
	} {
		c := good
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, tc.want)
		}
	}
	t.Setenv("IMPACT_SMTP_ADDR", "smtp.example.com:465")
	t.Setenv("IMPACT_SMTP_TO", " a@example.com, b@example.com ,")
	t.Setenv("IMPACT_SMTP_FROM", "impact@example.com")
	t.Setenv("IMPACT_SMTP_USER", "u")
	t.Setenv("IMPACT_SMTP_PASSWORD", "")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("from-file\n"), 0o600)
	t.Setenv("IMPACT_SMTP_PASSWORD_FILE", pw)
	c, err := impactmail.FromEnv()
	if err != nil || c.Password != "from-file" || len(c.To) != 2 || c.Validate() != nil {
		t.Errorf("FromEnv: %+v %v", c.To, err)
	}
}
