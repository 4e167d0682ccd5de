package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
)

// buildImpact builds cmd/impact into a temporary directory: the crash and
// group tests run the real binary as separate processes, because a SIGKILL
// of a goroutine cannot be simulated honestly.
func buildImpact(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "impact")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/impact")
	cmd.Dir = ".." // module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/impact: %v\n%s", err, out)
	}
	return bin
}

// proc is an `impact ingest` child process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    strings.Builder
	listen chan string
	exited chan struct{}
	err    error
}

var listenRE = regexp.MustCompile(`listen=(\S+)`)

// childEnv is the environment of a child ingester: the connection settings
// of kc and cc as IMPACT_* variables, the topic suffix of the test.
func childEnv(kc config.Kafka, cc config.ClickHouse) []string {
	env := []string{
		"IMPACT_KAFKA_BROKERS=" + strings.Join(kc.Brokers, ","),
		"IMPACT_TOPIC_SUFFIX=" + strings.TrimPrefix(kc.Topics.Security, config.DefaultTopics().Security),
		"IMPACT_CLICKHOUSE_ADDR=" + cc.Addr,
		"IMPACT_CLICKHOUSE_HTTP_ADDR=" + cc.HTTPAddr,
		"IMPACT_CLICKHOUSE_USER=" + cc.User,
		"IMPACT_CLICKHOUSE_PASSWORD=" + cc.Password,
		"IMPACT_CLICKHOUSE_DATABASE=" + cc.Database,
	}
	if kc.TLS {
		env = append(env, "IMPACT_KAFKA_TLS=1", "IMPACT_KAFKA_TLS_CA="+kc.TLSCAFile)
	}
	if kc.SASLMechanism != "" {
		env = append(env, "IMPACT_KAFKA_SASL_MECHANISM="+kc.SASLMechanism,
			"IMPACT_KAFKA_SASL_USER="+kc.SASLUser, "IMPACT_KAFKA_SASL_PASSWORD="+kc.SASLPassword)
	}
	if cc.TLS {
		env = append(env, "IMPACT_CLICKHOUSE_TLS=1", "IMPACT_CLICKHOUSE_TLS_CA="+cc.TLSCAFile)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

// startIngest starts `impact ingest` with args; the process is killed at
// the end of the test if still running.
func startIngest(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	args = append([]string{"ingest", "--listen", "127.0.0.1:0", "--flush-age", "200ms", "--no-migrate"}, args...)
	p := &proc{t: t, cmd: exec.Command(bin, args...), listen: make(chan string, 1), exited: make(chan struct{})}
	p.cmd.Env = env
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case p.listen <- m[1]:
				default:
				}
			}
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("ingest child %d log:\n%s", p.cmd.Process.Pid, p.logs())
		}
	})
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// addr returns the child's health/metrics address.
func (p *proc) addr() string {
	p.t.Helper()
	select {
	case a := <-p.listen:
		p.listen <- a
		return a
	case <-p.exited:
		p.t.Fatalf("ingest exited before listening: %v\n%s", p.err, p.logs())
	case <-time.After(30 * time.Second):
		p.t.Fatalf("ingest did not report its listen address\n%s", p.logs())
	}
	return ""
}

func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill: %v", err)
	}
	<-p.exited
}

// wait waits for the process to exit and returns its error (nil: exit 0).
func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("ingest still running after %v\n%s", timeout, p.logs())
		return nil
	}
}

// metric returns the sum of the series of name (any labels) on the child's
// /metrics.
func (p *proc) metric(name string) float64 {
	p.t.Helper()
	_, body := httpGet(p.t, "http://"+p.addr()+"/metrics")
	return sumMetric(body, name)
}

func sumMetric(body, name string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name) || len(line) <= len(name) || (line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// waitUntil polls cond every 100ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// caughtUp reports whether group has committed every source partition to
// its end offset.
func caughtUp(t *testing.T, kc config.Kafka, group string) bool {
	t.Helper()
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := admin.EndOffsets(ctx, kc.Topics.Sources())
	if err != nil {
		return false
	}
	committed, err := admin.CommittedOffsets(ctx, group, kc.Topics.Sources())
	if err != nil {
		return false
	}
	for topic, ps := range ends {
		for p, end := range ps {
			if end > 0 && committed[topic][p] != end {
				return false
			}
		}
	}
	return true
}
