package chlocal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrZooKeeperNotInstalled is returned (wrapped) by StartZooKeeper when the
// ZooKeeper jar or java is missing.
var ErrZooKeeperNotInstalled = errors.New("ZooKeeper is not installed: run `sudo apt-get install -y zookeeper` (or scripts/ensure-clickhouse.sh --zookeeper)")

// DefaultZooKeeperClasspath is where Debian's zookeeper package puts the
// server; its manifest names the dependency jars.
const DefaultZooKeeperClasspath = "/usr/share/java/zookeeper.jar"

const slf4jSimple = "/usr/share/java/slf4j-simple.jar"

// ZooKeeperOptions configures StartZooKeeper. The zero value runs Debian's
// ZooKeeper with the java on PATH in a fresh directory under os.TempDir.
type ZooKeeperOptions struct {
	Java         string        // default: java on PATH
	Classpath    string        // default DefaultZooKeeperClasspath
	Dir          string        // parent of the temporary directory; default os.TempDir()
	StartTimeout time.Duration // default 90s (a JVM on a busy 2-core machine)
}

// ZooKeeper is a standalone ZooKeeper server on a free loopback port: the
// coordinator replicated tables and ON CLUSTER DDL need (cluster tests).
type ZooKeeper struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartZooKeeper starts ZooKeeper and waits until it serves requests.
func StartZooKeeper(ctx context.Context, opts ZooKeeperOptions) (*ZooKeeper, error) {
	java := opts.Java
	if java == "" {
		java = "java"
	}
	javaPath, err := exec.LookPath(java)
	if err != nil {
		return nil, fmt.Errorf("find java: %w: %w", err, ErrZooKeeperNotInstalled)
	}
	cp := opts.Classpath
	if cp == "" {
		cp = DefaultZooKeeperClasspath
		// Without an SLF4J binding ZooKeeper logs nothing, and a failed
		// start would be a mystery.
		if _, err := os.Stat(slf4jSimple); err == nil {
			cp += string(filepath.ListSeparator) + slf4jSimple
		}
	}
	for _, jar := range filepath.SplitList(cp) {
		if _, err := os.Stat(jar); err != nil {
			return nil, fmt.Errorf("zookeeper classpath %s: %w: %w", jar, err, ErrZooKeeperNotInstalled)
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 90 * time.Second
	}
	removeStale(opts.Dir)
	dir, err := os.MkdirTemp(opts.Dir, dirPrefix+"zk-")
	if err != nil {
		return nil, fmt.Errorf("create zookeeper dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write zookeeper owner file: %w", err)
	}
	for attempt := 1; ; attempt++ {
		z, err := startZooKeeper(ctx, javaPath, cp, dir, opts.StartTimeout)
		if err == nil {
			return z, nil
		}
		if errors.Is(err, errAddrInUse) && attempt < maxPortAttempts {
			continue
		}
		os.RemoveAll(dir)
		return nil, err
	}
}

func startZooKeeper(ctx context.Context, java, cp, dir string, timeout time.Duration) (*ZooKeeper, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{dir: dir, port: ports[0]}
	// Short ticks keep session handling quick in tests; the admin HTTP
	// server (port 8080 by default) is off, so only the client port opens.
	// maxSessionTimeout lets the servers have the 30 s sessions they ask
	// for: by default ZooKeeper caps a session at 20 ticks (10 s here), a
	// session a server on two loaded cores can miss the heartbeats of, and
	// an ON CLUSTER DDL then hung past its test's 5 minutes in CI (twice,
	// in migration 0004's ALTERs of replicated tables).
	cfg := fmt.Sprintf(`tickTime=500
maxSessionTimeout=60000
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr
`, filepath.Join(dir, "data"), z.port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write zookeeper config: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		return nil, fmt.Errorf("create zookeeper log: %w", err)
	}
	cmd := exec.Command(java, "-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
		"-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	z.cmd = cmd
	z.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		logFile.Close()
		close(z.exited)
	}()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if serving(z.Addr()) {
			return z, nil
		}
		select {
		case <-z.exited:
			tail := z.logTail(2000)
			if strings.Contains(tail, "Address already in use") {
				return nil, fmt.Errorf("start zookeeper on port %d: %w", z.port, errAddrInUse)
			}
			return nil, fmt.Errorf("start zookeeper: exited before it was ready:\n%s", tail)
		case <-ctx.Done():
			z.kill()
			return nil, fmt.Errorf("start zookeeper: not ready after %s (%w):\n%s", timeout, ctx.Err(), z.logTail(2000))
		case <-tick.C:
		}
	}
}

// serving asks ZooKeeper's "srvr" four-letter command whether it serves
// requests. "ruok" is not enough: it answers "imok" while the server is
// still loading, and a ClickHouse 18.16 whose first ZooKeeper session is
// refused then crashes (NULL pointer in zkutil::ZooKeeper::createImpl).
func serving(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	out, _ := io.ReadAll(bufio.NewReader(c))
	return strings.Contains(string(out), "Mode: standalone")
}

// Addr returns the client address host:port.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// Dir returns ZooKeeper's private directory (data, zookeeper.log).
func (z *ZooKeeper) Dir() string { return z.dir }

// Port returns the client port.
func (z *ZooKeeper) Port() int { return z.port }

// Close kills ZooKeeper and removes its directory.
func (z *ZooKeeper) Close() error {
	z.kill()
	if err := os.RemoveAll(z.dir); err != nil {
		return fmt.Errorf("remove zookeeper dir: %w", err)
	}
	return nil
}

func (z *ZooKeeper) kill() {
	select {
	case <-z.exited:
		return
	default:
	}
	syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
	<-z.exited
}

func (z *ZooKeeper) logTail(n int) string {
	data, _ := os.ReadFile(filepath.Join(z.dir, "zookeeper.log"))
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return strings.TrimSpace(string(data))
}
