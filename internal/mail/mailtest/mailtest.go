// Package mailtest is an SMTP server for tests (RFC 5321 submission as
// net/smtp speaks it: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// NOOP, QUIT) that keeps every message it accepts. It refuses AUTH before
// STARTTLS when it offers TLS, and wrong credentials, as a real server
// does.
package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte // as received, dot-unstuffed, CRLF line ends
	TLS  bool   // received over TLS
	Auth string // the user that authenticated, "" when none
}

// Server is a running test SMTP server.
type Server struct {
	Addr string
	// User and Password, when set, are required (AUTH PLAIN).
	User, Password string

	tls      *tls.Config
	ln       net.Listener
	mu       sync.Mutex
	messages []Message
	wg       sync.WaitGroup
}

// Start runs a server on a free loopback port until the test ends. With
// tlsConf it offers STARTTLS and requires it before AUTH.
func Start(t testing.TB, user, password string, tlsConf *tls.Config) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), User: user, Password: password, tls: tlsConf, ln: ln}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.session(c)
		}()
	}
}

func (s *Server) session(c net.Conn) {
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\r\n", args...)
		w.Flush()
	}
	var (
		msg    Message
		hello  bool
		secure bool
		authed string
	)
	reply("220 mailtest ESMTP ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			hello = true
			var ext []string
			if s.tls != nil && !secure {
				ext = append(ext, "STARTTLS")
			}
			if s.User != "" && (s.tls == nil || secure) {
				ext = append(ext, "AUTH PLAIN")
			}
			ext = append(ext, "8BITMIME")
			fmt.Fprintf(w, "250-mailtest greets %s\r\n", arg)
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				fmt.Fprintf(w, "250%s%s\r\n", sep, e)
			}
			w.Flush()
		case "STARTTLS":
			if s.tls == nil || secure {
				reply("502 not offered")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure, hello = tc, true, false
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if s.User == "" || !strings.EqualFold(mech, "PLAIN") || (s.tls != nil && !secure) {
				reply("504 authentication not offered")
				continue
			}
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := bytes.Split(b, []byte{0})
			if err != nil || len(parts) != 3 || string(parts[1]) != s.User || string(parts[2]) != s.Password {
				reply("535 5.7.8 authentication credentials invalid")
				continue
			}
			authed = s.User
			reply("235 2.7.0 authenticated")
		case "MAIL":
			switch {
			case !hello:
				reply("503 say EHLO first")
			case s.User != "" && authed == "":
				reply("530 5.7.0 authentication required")
			default:
				msg = Message{From: addr(arg), TLS: secure, Auth: authed}
				reply("250 ok")
			}
		case "RCPT":
			if msg.From == "" {
				reply("503 MAIL first")
				continue
			}
			msg.To = append(msg.To, addr(arg))
			reply("250 ok")
		case "DATA":
			if len(msg.To) == 0 {
				reply("503 RCPT first")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			msg.Data = data.Bytes()
			s.mu.Lock()
			s.messages = append(s.messages, msg)
			s.mu.Unlock()
			msg = Message{}
			reply("250 queued")
		case "RSET":
			msg = Message{}
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("500 unknown command")
		}
	}
}

// addr reads the address of "FROM:<a@b>" or "TO:<a@b> SIZE=...".
func addr(arg string) string {
	i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>')
	if i < 0 || j < i {
		return ""
	}
	return arg[i+1 : j]
}
