// Package chlocal runs a local ClickHouse server as a child process, for
// tests and for `impact demo`.
//
// The server is the one the operating system ships (Debian's
// clickhouse-server 18.16 in CI, or a current ClickHouse install). Each
// Server gets a generated configuration, free loopback ports chosen at run
// time and a private temporary directory, so several can run side by side
// and nothing is left behind after Close.
package chlocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/secimpact/impact/internal/config"
)

// ReaderUser is the read-only user every local server has (no password,
// loopback only), with the read-only profile of package readonly.
// `impact query` and Grafana use it.
const ReaderUser = "impact_reader"

// ErrNotInstalled is returned (wrapped) by Start when no ClickHouse server
// binary can be found.
var ErrNotInstalled = errors.New("clickhouse-server is not installed: run `sudo apt-get install -y clickhouse-server` (or `make deps`, or scripts/ensure-clickhouse.sh)")

// Options configures Start. The zero value starts the system's
// clickhouse-server in a fresh directory under os.TempDir.
type Options struct {
	// Binary is the server executable. Empty means search, in order:
	// clickhouse-server on PATH, /usr/sbin/clickhouse-server (Debian),
	// /usr/bin/clickhouse-server, and `clickhouse server` (the single
	// binary of current releases).
	Binary string

	// Dir is where the server's temporary directory is created; empty
	// means os.TempDir().
	Dir string

	// StartTimeout bounds the wait for the server to answer /ping.
	// Default 60s: 18.16 starts in well under a second, but a loaded CI
	// machine may be slow.
	StartTimeout time.Duration

	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	// Default 15s.
	StopTimeout time.Duration

	// LogLevel is the server's logger level (trace, debug, information,
	// warning, error). Default "warning".
	LogLevel string

	// TCPPort and HTTPPort fix the ports, for servers that must know each
	// other's addresses before they start (a cluster; see StartCluster).
	// Zero means a free port chosen at start. Take fixed ports from
	// FreePorts, never constants.
	TCPPort, HTTPPort int

	// InterserverPort, when set, opens the interserver HTTP port on
	// 127.0.0.1, which replicas use to fetch parts from each other.
	InterserverPort int

	// ExtraConfig is XML placed inside the server configuration's root
	// element: remote_servers, zookeeper, macros, distributed_ddl.
	ExtraConfig string
}

// Server is a running (or stopped) local ClickHouse server.
type Server struct {
	opts     Options
	bin      string
	binArgs  []string // leading arguments, e.g. "server" for the single binary
	version  Version
	dir      string
	tcpPort  int
	httpPort int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	closed bool
}

const (
	dirPrefix = "impact-clickhouse-"
	ownerFile = "owner.pid"
)

// removeStale removes the directories of servers whose owning process is
// gone (a test binary killed by a timeout, say): no leftovers across runs.
// Directories without an owner file are not ours to judge and are kept.
func removeStale(parent string) {
	if parent == "" {
		parent = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// maxPortAttempts bounds retries when the free ports picked for a new
// server are taken by someone else before the server binds them.
const maxPortAttempts = 5

// Start starts a ClickHouse server on free loopback ports and waits until
// it answers. The caller must Close it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, binArgs, err := findBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 15 * time.Second
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warning"
	}
	removeStale(opts.Dir)
	dir, err := os.MkdirTemp(opts.Dir, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create clickhouse temp dir: %w", err)
	}
	// The owner file lets a later Start remove this directory if our
	// process dies without Close (the server itself dies with us).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write clickhouse owner file: %w", err)
	}
	s := &Server{opts: opts, bin: bin, binArgs: binArgs, dir: dir, version: probeVersion(bin, binArgs)}
	for attempt := 1; ; attempt++ {
		ports, err := FreePorts(2)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.tcpPort, s.httpPort = ports[0], ports[1]
		fixed := opts.TCPPort != 0 || opts.HTTPPort != 0
		if opts.TCPPort != 0 {
			s.tcpPort = opts.TCPPort
		}
		if opts.HTTPPort != 0 {
			s.httpPort = opts.HTTPPort
		}
		if err := s.writeConfig(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		// Someone took a port between our probe and the server's bind:
		// pick new ports. Anything else is a real failure.
		if errors.Is(err, errAddrInUse) && attempt < maxPortAttempts && !fixed {
			continue
		}
		os.RemoveAll(dir)
		return nil, err
	}
}

// Addr returns the native protocol address host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort)) }

// HTTPAddr returns the HTTP interface address host:port.
func (s *Server) HTTPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort)) }

// Dir returns the server's private directory (data, logs, configuration).
func (s *Server) Dir() string { return s.dir }

// Config returns connection settings for the server's default user and
// the given database (empty means config's default, "impact").
func (s *Server) Config(database string) config.ClickHouse {
	return config.ClickHouse{Addr: s.Addr(), HTTPAddr: s.HTTPAddr(), User: "default", Database: database}
}

// ReaderConfig is Config for the read-only user ReaderUser.
func (s *Server) ReaderConfig(database string) config.ClickHouse {
	return config.ClickHouse{Addr: s.Addr(), HTTPAddr: s.HTTPAddr(), User: ReaderUser, Database: database}
}

// PID is the server process's id (0 when it was never started).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked()
}

func (s *Server) runningLocked() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after Options.StopTimeout)
// and keeps its data and ports, so Restart can bring it back: tests use it
// to simulate an outage. Stopping a stopped server is a no-op.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx, syscall.SIGTERM)
}

// Restart starts a stopped server again on the same ports with the same
// data and waits until it answers. Restarting a running server is a no-op.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("restart clickhouse: server is closed")
	}
	if s.runningLocked() {
		return nil
	}
	// The old ports may be briefly unavailable, or taken by another process
	// meanwhile; retry for a while before giving up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.startLocked(ctx)
		if err == nil || !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("restart clickhouse: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close kills the server and removes its directory. The data is being
// discarded, so the server is killed without a graceful shutdown, which
// takes 18.16 more than a second.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stopLocked(context.Background(), syscall.SIGKILL)
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = fmt.Errorf("remove clickhouse dir: %w", rmErr)
	}
	return err
}

// LogTail returns the last n bytes of the server's logs (error log and
// console output), for error messages.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, name := range []string{"log/clickhouse-server.err.log", "log/console.log"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", name, bytes.TrimSpace(data))
	}
	return b.String()
}

// logContains reports whether the server's main log has sub.
func (s *Server) logContains(sub string) bool {
	data, err := os.ReadFile(filepath.Join(s.dir, "log", "clickhouse-server.log"))
	return err == nil && bytes.Contains(data, []byte(sub))
}

var errAddrInUse = errors.New("address already in use")

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(ctx)
}

func (s *Server) startLocked(ctx context.Context) error {
	logDir := filepath.Join(s.dir, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("create clickhouse log dir: %w", err)
	}
	console, err := os.OpenFile(filepath.Join(logDir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create clickhouse console log: %w", err)
	}
	// Empty the error log, so a bind error of an earlier run (a restart)
	// is not mistaken for this one's.
	errLog := filepath.Join(logDir, "clickhouse-server.err.log")
	os.Truncate(errLog, 0)

	args := append(append([]string{}, s.binArgs...), "--config-file="+filepath.Join(s.dir, "config.xml"))
	// Not exec.CommandContext: ctx bounds the start, not the server's life.
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout = console
	cmd.Stderr = console
	cmd.Stdin = nil
	// Own process group, so a Ctrl-C to the test run does not reach the
	// server before we stop it; and killed if we die, so no server
	// outlives its parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		console.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		console.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	if err := s.waitReady(ctx, exited); err != nil {
		s.stopLocked(context.Background(), syscall.SIGKILL)
		return err
	}
	return nil
}

// waitReady polls the HTTP /ping endpoint until the server answers, the
// process exits, or the start timeout passes.
func (s *Server) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	// No keep-alive: an idle kept-alive connection makes the server's
	// graceful shutdown wait out keep_alive_timeout.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + s.HTTPAddr() + "/ping"
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "Ok") {
				// /ping answers once the HTTP handler is up; the native
				// port is opened in the same step, just before.
				return nil
			}
		}
		select {
		case <-exited:
			tail := s.LogTail(2000)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("start clickhouse on ports %d/%d: %w", s.tcpPort, s.httpPort, errAddrInUse)
			}
			return fmt.Errorf("start clickhouse: server exited before it was ready:\n%s", tail)
		case <-ctx.Done():
			return fmt.Errorf("start clickhouse: not ready after %s (%w):\n%s", s.opts.StartTimeout, ctx.Err(), s.LogTail(2000))
		case <-tick.C:
		}
	}
}

func (s *Server) stopLocked(ctx context.Context, sig syscall.Signal) error {
	if !s.runningLocked() {
		return nil
	}
	// Signal the whole group: the server has no children today, but a
	// future release might.
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, sig)
	timer := time.NewTimer(s.opts.StopTimeout)
	defer timer.Stop()
	select {
	case <-s.exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-s.exited
	if sig != syscall.SIGKILL {
		return fmt.Errorf("stop clickhouse: no clean exit within %s, killed", s.opts.StopTimeout)
	}
	return nil
}

func findBinary(explicit string) (string, []string, error) {
	if explicit != "" {
		p, err := exec.LookPath(explicit)
		if err != nil {
			return "", nil, fmt.Errorf("clickhouse server binary %q not found (%w): %w", explicit, err, ErrNotInstalled)
		}
		if filepath.Base(p) == "clickhouse" {
			return p, []string{"server"}, nil
		}
		return p, nil, nil
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil, nil
	}
	// /usr/sbin is not on every user's PATH.
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if isExecutable(p) {
			return p, nil, nil
		}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return p, []string{"server"}, nil
	}
	return "", nil, ErrNotInstalled
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// FreePorts returns n distinct free loopback TCP ports. The listeners are
// closed before returning, so another process may grab a port before the
// server binds it; Start retries with new ports when that happens (unless
// the ports were fixed by the caller).
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
