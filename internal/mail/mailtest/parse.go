package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
)

// Parsed is a received message read back: its header, its decoded
// subject and every leaf part by content type, the body decoded
// (quoted-printable by mime/multipart, base64 here), with its file name.
type Parsed struct {
	Header  mail.Header
	Subject string
	Bodies  map[string][]byte
	Names   map[string]string
}

// Parse reads m back, failing t unless it is a MIME multipart message.
func (m Message) Parse(t testing.TB) Parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	p := Parsed{Header: msg.Header, Bodies: map[string][]byte{}, Names: map[string]string{}}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	var walk func(r io.Reader, ct string)
	walk = func(r io.Reader, ct string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(mt, "multipart/") {
			t.Fatalf("leaf %s where a multipart part was expected", mt)
		}
		mr := multipart.NewReader(r, params["boundary"])
		for {
			part, err := mr.NextPart() // decodes quoted-printable bodies
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pct := part.Header.Get("Content-Type")
			pmt, _, err := mime.ParseMediaType(pct)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(pmt, "multipart/") {
				walk(part, pct)
				continue
			}
			var body io.Reader = part
			if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
				body = base64.NewDecoder(base64.StdEncoding, part) // line ends are skipped
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			p.Bodies[pmt], p.Names[pmt] = b, part.FileName()
		}
	}
	walk(msg.Body, msg.Header.Get("Content-Type"))
	return p
}
