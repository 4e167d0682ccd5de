package chconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/ch-go/compress"

	"github.com/secimpact/impact/internal/config"
)

// Inserter sends INSERTs over ClickHouse's HTTP interface with their rows
// in the Native format, encoded by the caller straight from its column
// buffers.
//
// Why not clickhouse-go's batches, which the rest of impact uses: a batch
// builds fresh column buffers for every INSERT, copies the rows into them,
// encodes them into a third buffer and (with LZ4) a fourth. For ingest
// that was half of its CPU per event and much of its garbage. Here the
// rows are encoded once, a block at a time, into a buffer reused across
// INSERTs, and sent as they are encoded. The native TCP protocol would do
// as well, but no maintained Go client sends INSERTs to ClickHouse 18.16
// without its own buffers (ch-go, which has reusable columns, encodes the
// query packet for that server wrongly); the HTTP interface and the
// Native format are the same in every ClickHouse release.
//
// Bodies are compressed with ClickHouse's LZ4 framing (decompress=1)
// unless every address is a loopback one, where compressing only spends
// CPU on both sides. An Inserter is safe for concurrent use.
type Inserter struct {
	client   *http.Client
	urls     []string // base URL of each address: scheme://host:port/
	database string
	user     string
	password string
	compress bool
	settings url.Values     // query settings sent with every INSERT
	next     *atomic.Uint32 // the address to try first
	bufs     *sync.Pool     // *bodyBuf
}

// nativeBlockBytes is about the size of one Native block of a body: big
// enough that per-block costs vanish, small enough that the buffer reused
// for it stays small.
const nativeBlockBytes = 1 << 20

// NewInserter returns an Inserter for cfg's HTTP addresses (see
// config.ClickHouse.HTTPAddrs), user and database. It does not connect.
func NewInserter(cfg config.ClickHouse) (*Inserter, error) {
	addrs := cfg.HTTPAddrs()
	if len(addrs) == 0 {
		return nil, ErrNoAddr
	}
	scheme := "http"
	tr := &http.Transport{
		Proxy:                 nil, // a loopback or in-cluster server: never through a proxy
		DialContext:           (&net.Dialer{Timeout: cmpDuration(cfg.DialTimeout, DefaultDialTimeout), KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   DefaultMaxOpenConns,
		IdleConnTimeout:       2 * time.Second, // under ClickHouse's keep_alive_timeout (3 s by default)
		ResponseHeaderTimeout: DefaultReadTimeout,
		DisableCompression:    true,
	}
	if cfg.TLS || cfg.TLSCAFile != "" {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
		scheme = "https"
	}
	in := &Inserter{
		client:   &http.Client{Transport: tr},
		database: cfg.DB(),
		user:     cfg.Username(),
		password: cfg.Password,
		compress: !allLoopback(addrs),
		next:     new(atomic.Uint32),
		bufs:     new(sync.Pool),
	}
	for _, a := range addrs {
		in.urls = append(in.urls, scheme+"://"+a+"/")
	}
	return in, nil
}

// WithSettings returns an Inserter sending the query settings s (such as
// insert_distributed_sync) with every INSERT, sharing in's connections.
func (in *Inserter) WithSettings(s map[string]string) *Inserter {
	c := *in
	c.settings = url.Values{}
	for k, v := range in.settings {
		c.settings[k] = v
	}
	for k, v := range s {
		c.settings.Set(k, v)
	}
	return &c
}

// Close closes idle connections.
func (in *Inserter) Close() { in.client.CloseIdleConnections() }

// Compressed reports whether bodies are sent compressed.
func (in *Inserter) Compressed() bool { return in.compress }

// NativeSource is rows to insert: Len of them, encoded by AppendNative
// (rows lo..hi as Native blocks, one or more, appended to dst) and sized by
// NativeSize (about the bytes AppendNative would append).
type NativeSource interface {
	Len() int
	AppendNative(dst []byte, lo, hi int) []byte
	NativeSize(lo, hi int) int
}

// Insert runs query, an `INSERT INTO t (columns) FORMAT Native` fixed by
// the caller (never built from input), with src's rows as its body. The
// rows are encoded while they are sent, in blocks of about 1 MiB. After a
// connection error (such as a keep-alive connection the server closed
// while the request was being written) the INSERT is sent once more, to
// the next address if there is one; the server's refusals are returned
// with its message, for the caller to retry or not. A retried INSERT may
// have been stored before the connection broke: impact's tables are
// ReplacingMergeTrees keyed on the event, so a second copy is harmless.
func (in *Inserter) Insert(ctx context.Context, query string, src NativeSource) error {
	if src.Len() == 0 {
		return nil
	}
	params := url.Values{"query": {query}, "database": {in.database}}
	for k, v := range in.settings {
		params[k] = v
	}
	if in.compress {
		params.Set("decompress", "1")
	}
	q := "?" + params.Encode()
	first := int(in.next.Load())
	var errs []error
	for k := range max(len(in.urls), 2) {
		i := (first + k) % len(in.urls)
		err := in.post(ctx, in.urls[i]+q, src)
		if err == nil {
			return nil
		}
		var se *serverError
		if errors.As(err, &se) || ctx.Err() != nil {
			return err // the server answered: another address would answer the same
		}
		errs = append(errs, err)
		in.next.Store(uint32((i + 1) % len(in.urls)))
	}
	return errors.Join(errs...)
}

// Ping asks the HTTP interface of the address INSERTs go to first whether
// it serves (ClickHouse's /ping): for readiness checks.
func (in *Inserter) Ping(ctx context.Context) error {
	u := in.urls[int(in.next.Load())%len(in.urls)] + "ping"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("ping clickhouse http: %w", err)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("ping clickhouse http: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping clickhouse http %s: HTTP %d", u, resp.StatusCode)
	}
	return nil
}

func (in *Inserter) post(ctx context.Context, u string, src NativeSource) error {
	body := in.newBody(src)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		body.Close()
		return fmt.Errorf("insert: %w", err)
	}
	// A keep-alive connection the server closed while idle is retried by
	// net/http with a fresh body (the rows are still in src).
	req.GetBody = func() (io.ReadCloser, error) { return in.newBody(src), nil }
	req.SetBasicAuth(in.user, in.password)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("insert over http: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return &serverError{status: resp.StatusCode, msg: strings.TrimSpace(string(msg))}
}

// serverError is ClickHouse's answer to a failed INSERT.
type serverError struct {
	status int
	msg    string
}

func (e *serverError) Error() string {
	return fmt.Sprintf("clickhouse answered HTTP %d: %s", e.status, e.msg)
}

// bodyBuf is the reusable buffers of a body.
type bodyBuf struct {
	raw []byte
	lz4 *compress.Writer
}

// body is an INSERT's request body: src's rows encoded a block at a time
// as net/http reads them. Read and Close may be called from different
// goroutines (net/http closes a body from the caller's goroutine when a
// request fails while its writer is still reading); the mutex keeps the
// buffers from going back to the pool while in use.
type body struct {
	mu     sync.Mutex
	in     *Inserter
	src    NativeSource
	lo     int
	buf    *bodyBuf
	out    []byte // bytes of the current block not yet read
	closed bool
}

func (in *Inserter) newBody(src NativeSource) *body {
	b, _ := in.bufs.Get().(*bodyBuf)
	if b == nil {
		b = &bodyBuf{}
	}
	return &body{in: in, src: src, buf: b}
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("insert body: read after close")
	}
	for len(b.out) == 0 {
		if err := b.encode(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// WriteTo writes the rest of the body to w without the copy through Read's
// buffer (io.Copy, used by net/http, prefers it).
func (b *body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return total, errors.New("insert body: read after close")
		}
		for len(b.out) == 0 {
			if err := b.encode(); err != nil {
				b.mu.Unlock()
				if errors.Is(err, io.EOF) {
					return total, nil
				}
				return total, err
			}
		}
		n, err := w.Write(b.out)
		b.out = b.out[n:]
		b.mu.Unlock()
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// encode fills out with the next block of rows; io.EOF after the last.
func (b *body) encode() error {
	rows := b.src.Len()
	if b.lo >= rows {
		return io.EOF
	}
	hi := blockEnd(b.src, b.lo, rows)
	b.buf.raw = b.src.AppendNative(b.buf.raw[:0], b.lo, hi)
	b.lo = hi
	b.out = b.buf.raw
	if b.in.compress {
		if b.buf.lz4 == nil {
			b.buf.lz4 = compress.NewWriter(compress.LevelZero, compress.LZ4)
		}
		if err := b.buf.lz4.Compress(b.buf.raw); err != nil {
			return fmt.Errorf("insert body: compress: %w", err)
		}
		b.out = b.buf.lz4.Data
	}
	return nil
}

// blockEnd chooses the rows of the block starting at lo: about
// nativeBlockBytes of them, at least one. Row sizes of a batch are much
// alike, so the first block's average sets the block's row count.
func blockEnd(src NativeSource, lo, rows int) int {
	n := 1024
	if sz := src.NativeSize(lo, min(lo+n, rows)); sz > 0 {
		n = max(1, n*nativeBlockBytes/sz)
	}
	return min(lo+n, rows)
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.out = nil
		if cap(b.buf.raw) <= 4*nativeBlockBytes { // a block of one huge row is not kept
			b.in.bufs.Put(b.buf)
		}
		b.buf = nil
	}
	return nil
}

// allLoopback reports whether every address is a loopback one.
func allLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return false
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
