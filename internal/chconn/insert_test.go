package chconn_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/testenv"
)

// numbers is a NativeSource of rows (n UInt64, s String): n = 0..rows-1,
// s = pad followed by n.
type numbers struct {
	rows int
	pad  string
}

func (s numbers) Len() int { return s.rows }

func (s numbers) NativeSize(lo, hi int) int { return (hi - lo) * (8 + 1 + len(s.pad) + 8) }

func (s numbers) AppendNative(dst []byte, lo, hi int) []byte {
	dst = binary.AppendUvarint(dst, 2)
	dst = binary.AppendUvarint(dst, uint64(hi-lo))
	for _, c := range []string{"n", "UInt64"} {
		dst = binary.AppendUvarint(dst, uint64(len(c)))
		dst = append(dst, c...)
	}
	for k := lo; k < hi; k++ {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(k))
	}
	for _, c := range []string{"s", "String"} {
		dst = binary.AppendUvarint(dst, uint64(len(c)))
		dst = append(dst, c...)
	}
	for k := lo; k < hi; k++ {
		v := fmt.Sprint(s.pad, k)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

func newTable(t *testing.T) (config.ClickHouse, func() (count, sum uint64)) {
	t.Helper()
	cfg := testenv.ClickHouseEmpty(t)
	ctx := context.Background()
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Exec(ctx, "CREATE TABLE t (n UInt64, s String) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	return cfg, func() (count, sum uint64) {
		t.Helper()
		var bad uint64
		if err := conn.QueryRow(ctx, "SELECT count(), sum(n), countIf(NOT endsWith(s, toString(n))) FROM t").Scan(&count, &sum, &bad); err != nil {
			t.Fatal(err)
		}
		if bad > 0 {
			t.Errorf("%d rows whose s does not end in their n", bad)
		}
		return count, sum
	}
}

const insertT = "INSERT INTO t (n, s) FORMAT Native"

// TestInserter: rows arrive whole, plain and compressed, in one block or
// many (a body of several MiB is encoded block by block as it is sent),
// from concurrent INSERTs sharing the Inserter's buffers.
func TestInserter(t *testing.T) {
	t.Parallel()
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			t.Parallel()
			cfg, count := newTable(t)
			ins, err := chconn.NewInserter(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ins.Close()
			chconn.SetCompress(ins, compress)
			if ins.Compressed() != compress {
				t.Fatalf("Compressed() = %v", ins.Compressed())
			}
			srcs := []numbers{{rows: 1}, {rows: 3000, pad: "x"}, {rows: 40000, pad: strings.Repeat("y", 200)}, {rows: 0}}
			var wg sync.WaitGroup
			for range 3 {
				for _, src := range srcs {
					wg.Go(func() {
						if err := ins.Insert(t.Context(), insertT, src); err != nil {
							t.Error(err)
						}
					})
				}
			}
			wg.Wait()
			var wantN, wantSum uint64
			for _, src := range srcs {
				r := uint64(src.rows)
				wantN += 3 * r
				if r > 0 {
					wantSum += 3 * r * (r - 1) / 2
				}
			}
			if n, sum := count(); n != wantN || sum != wantSum {
				t.Errorf("count %d sum %d, want %d and %d", n, sum, wantN, wantSum)
			}
		})
	}
}

// TestInserterServerError: ClickHouse's refusal reaches the caller with
// its message; a dead first address is skipped for the next one; an idle
// connection the server closed (keep_alive_timeout, 3 s) is not an error.
func TestInserterErrors(t *testing.T) {
	t.Parallel()
	cfg, count := newTable(t)
	ins, err := chconn.NewInserter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	err = ins.Insert(t.Context(), "INSERT INTO missing (n, s) FORMAT Native", numbers{rows: 2})
	if err == nil || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "HTTP 404") && !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("insert into a missing table: %v, want the server's message", err)
	}

	two := cfg
	two.HTTPAddr = deadAddr(t) + "," + cfg.HTTPAddrs()[0]
	fo, err := chconn.NewInserter(two)
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	for range 2 {
		if err := fo.Insert(t.Context(), insertT, numbers{rows: 10}); err != nil {
			t.Fatalf("insert with a dead first address: %v", err)
		}
	}
	time.Sleep(3500 * time.Millisecond) // past the server's keep_alive_timeout
	if err := fo.Insert(t.Context(), insertT, numbers{rows: 10}); err != nil {
		t.Fatalf("insert after the server closed the idle connection: %v", err)
	}
	if n, _ := count(); n != 30 {
		t.Errorf("%d rows, want 30", n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := ins.Insert(ctx, insertT, numbers{rows: 1}); err == nil {
		t.Error("insert with a cancelled context succeeded")
	}
}

func TestInserterConfig(t *testing.T) {
	if _, err := chconn.NewInserter(config.ClickHouse{}); err == nil {
		t.Error("NewInserter without an address: no error")
	}
	for _, tt := range []struct {
		addr     string
		compress bool
	}{
		{"127.0.0.1:9000", false},
		{"localhost:9000,[::1]:9000", false},
		{"clickhouse:9000", true},
		{"127.0.0.1:9000,10.0.0.2:9000", true},
	} {
		ins, err := chconn.NewInserter(config.ClickHouse{Addr: tt.addr})
		if err != nil {
			t.Fatal(err)
		}
		if ins.Compressed() != tt.compress {
			t.Errorf("%s: Compressed() = %v, want %v", tt.addr, ins.Compressed(), tt.compress)
		}
	}
}

// TestInserterRetriesBrokenConnection: a connection that breaks while the
// INSERT is sent (the server closed it) is retried once with the whole
// body; a second break is returned.
func TestInserterRetriesBrokenConnection(t *testing.T) {
	var mu sync.Mutex
	var breaks, got int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if breaks > 0 {
			breaks--
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		got = len(body)
	}))
	defer srv.Close()
	ins, err := chconn.NewInserter(config.ClickHouse{HTTPAddr: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	src := numbers{rows: 5000, pad: "z"}
	want := len(src.AppendNative(nil, 0, src.rows))
	for _, tt := range []struct {
		breaks int
		ok     bool
	}{{0, true}, {1, true}, {2, false}} {
		mu.Lock()
		breaks, got = tt.breaks, 0
		mu.Unlock()
		err := ins.Insert(t.Context(), insertT, src)
		mu.Lock()
		if tt.ok && (err != nil || got < want) {
			t.Errorf("%d broken connections: %v, %d bytes received, want %d or more", tt.breaks, err, got, want)
		}
		if !tt.ok && err == nil {
			t.Errorf("%d broken connections: no error", tt.breaks)
		}
		mu.Unlock()
	}
}

func TestInserterPing(t *testing.T) {
	cfg := testenv.ClickHouseEmpty(t)
	ins, err := chconn.NewInserter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ins.Ping(t.Context()); err != nil {
		t.Errorf("ping: %v", err)
	}
	cfg.HTTPAddr = deadAddr(t)
	if ins, err = chconn.NewInserter(cfg); err != nil {
		t.Fatal(err)
	}
	if err := ins.Ping(t.Context()); err == nil {
		t.Error("ping of a closed port: no error")
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
