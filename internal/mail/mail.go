// Package mail sends a message with an HTML body, a plain-text
// alternative and attachments through an SMTP server (net/smtp), the way
// impact report --mail delivers the brief. Settings come from the
// environment (FromEnv); the password is never logged or put in an error.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// TLS modes of Config.TLS.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer (submission, port 587)
	TLS      = "tls"      // TLS from the start (port 465)
	NoTLS    = "none"     // no encryption: a relay on the same host only
)

// Config is where and as whom to send. The zero TLS is StartTLS.
type Config struct {
	Addr     string   // IMPACT_SMTP_ADDR, host:port
	User     string   // IMPACT_SMTP_USER; empty: no authentication
	Password string   // IMPACT_SMTP_PASSWORD (or IMPACT_SMTP_PASSWORD_FILE); never logged
	From     string   // IMPACT_SMTP_FROM, one address
	To       []string // IMPACT_SMTP_TO, comma separated
	TLS      string   // IMPACT_SMTP_TLS: starttls (default), tls or none
	CAFile   string   // IMPACT_SMTP_TLS_CA: PEM bundle to trust instead of the system's
	Timeout  time.Duration
}

// FromEnv reads the IMPACT_SMTP_* variables.
func FromEnv() (Config, error) {
	c := Config{
		Addr: os.Getenv("IMPACT_SMTP_ADDR"), User: os.Getenv("IMPACT_SMTP_USER"), Password: os.Getenv("IMPACT_SMTP_PASSWORD"),
		From: os.Getenv("IMPACT_SMTP_FROM"), TLS: os.Getenv("IMPACT_SMTP_TLS"), CAFile: os.Getenv("IMPACT_SMTP_TLS_CA"),
	}
	if f := os.Getenv("IMPACT_SMTP_PASSWORD_FILE"); f != "" && c.Password == "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("read IMPACT_SMTP_PASSWORD_FILE: %w", err)
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
	}
	for _, a := range strings.Split(os.Getenv("IMPACT_SMTP_TO"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.To = append(c.To, a)
		}
	}
	return c, nil
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	switch {
	case c.Addr == "":
		return errors.New("mail: IMPACT_SMTP_ADDR (host:port of the SMTP server) is not set")
	case err != nil || host == "":
		return fmt.Errorf("mail: IMPACT_SMTP_ADDR %q is not host:port", c.Addr)
	case c.TLS != "" && c.TLS != StartTLS && c.TLS != TLS && c.TLS != NoTLS:
		return fmt.Errorf("mail: IMPACT_SMTP_TLS %q: want starttls, tls or none", c.TLS)
	case c.User != "" && c.Password == "":
		return errors.New("mail: IMPACT_SMTP_USER is set but IMPACT_SMTP_PASSWORD is not")
	case len(c.To) == 0:
		return errors.New("mail: IMPACT_SMTP_TO (the recipients) is not set")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("mail: IMPACT_SMTP_FROM %q is not an address", c.From)
	}
	for _, a := range c.To {
		if _, err := mail.ParseAddress(a); err != nil {
			return fmt.Errorf("mail: recipient %q is not an address", a)
		}
	}
	return nil
}

// Attachment is a file attached to a message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Message is what to send.
type Message struct {
	Subject     string
	Text        string // plain-text alternative
	HTML        string // the body shown by mail readers that show HTML
	Attachments []Attachment
}

// Build returns the message in MIME form (RFC 5322 headers;
// multipart/mixed of a multipart/alternative text and HTML body and the
// attachments, base64).
func Build(c Config, m Message, date time.Time) ([]byte, error) {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("build message: from: %w", err)
	}
	var to []string
	for _, a := range c.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("build message: to: %w", err)
		}
		to = append(to, addr.String())
	}
	domain := "impact.local"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	header("From", from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Subject)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")

	mixed := multipart.NewWriter(&b)
	header("Content-Type", "multipart/mixed; boundary="+mixed.Boundary())
	b.WriteString("\r\n")

	var alt bytes.Buffer
	altW := multipart.NewWriter(&alt)
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := altW.CreatePart(textproto.MIMEHeader{
			"Content-Type": {part.typ + "; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := io.WriteString(qp, part.body); err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
	}
	if err := altW.Close(); err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	w, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + altW.Boundary()}})
	if err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	if _, err := w.Write(alt.Bytes()); err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	for _, a := range m.Attachments {
		name := mime.QEncoding.Encode("utf-8", a.Name)
		w, err := mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(a.ContentType, map[string]string{"name": name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			io.WriteString(w, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		io.WriteString(w, enc+"\r\n")
	}
	if err := mixed.Close(); err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	return b.Bytes(), nil
}

// Send delivers m to every recipient of c. Errors name the step that
// failed and the server's answer, never the password.
func Send(ctx context.Context, c Config, m Message) error {
	if err := c.Validate(); err != nil {
		return err
	}
	msg, err := Build(c, m, time.Now())
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(c.Addr)
	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("mail: read IMPACT_SMTP_TLS_CA: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("mail: IMPACT_SMTP_TLS_CA %s holds no PEM certificate", c.CAFile)
		}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", c.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if c.TLS == TLS {
		conn = tls.Client(conn, tlsConf)
	}
	client, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting of %s: %w", c.Addr, err)
	}
	defer client.Close()
	if err := client.Hello("localhost"); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if c.TLS == "" || c.TLS == StartTLS {
		if ok, _ := client.Extension("STARTTLS"); !ok {
			return fmt.Errorf("mail: %s does not offer STARTTLS; set IMPACT_SMTP_TLS=tls for port 465, or none for a relay on this host", c.Addr)
		}
		if err := client.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if c.User != "" {
		// net/smtp sends PLAIN credentials only over TLS or to localhost.
		if err := client.Auth(smtp.PlainAuth("", c.User, c.Password, host)); err != nil {
			return fmt.Errorf("mail: authenticate as %s: %w", c.User, err)
		}
	}
	from, _ := mail.ParseAddress(c.From)
	if err := client.Mail(from.Address); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	for _, a := range c.To {
		to, _ := mail.ParseAddress(a)
		if err := client.Rcpt(to.Address); err != nil {
			return fmt.Errorf("mail: RCPT TO %s: %w", to.Address, err)
		}
	}
	w, err := client.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("mail: send message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: end of message: %w", err)
	}
	if err := client.Quit(); err != nil {
		return fmt.Errorf("mail: QUIT: %w", err)
	}
	return nil
}
